// Connection state recovery with the official socket.io-client, across a
// cluster. Usage: node recovery_client.mjs <url>
// The server side (runtime/redisadapter/recovery_test.go) moves the client
// to another node when asked, and broadcasts while it is away.
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const s = io(url, { transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 200 });
await new Promise((resolve, reject) => { s.once("connect", resolve); s.once("connect_error", reject); });
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 15000);
try {
  const got = [];
  s.on("news", (i) => got.push(i));
  await s.emitWithAck("join-news");
  await s.emitWithAck("news-now", 3);
  for (let t = 0; got.length < 3 && t < 100; t++) await sleep(20);
  const id = s.id;
  const reconnected = new Promise((resolve) => s.once("disconnect", () => s.once("connect", resolve)));
  s.emit("move-me", 3, 20);
  await reconnected;
  assert.equal(s.recovered, true, "socket.recovered");
  assert.equal(s.id, id, "same socket id on the other node");
  for (let t = 0; got.length < 23 && t < 200; t++) await sleep(20);
  await sleep(100);
  assert.deepEqual(got, Array.from({ length: 23 }, (_, i) => i));
  const where = await s.emitWithAck("where");
  assert.equal(where, "b", "the client resumed on the other node");
  console.log("ok recovered across nodes");
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  s.close();
}
