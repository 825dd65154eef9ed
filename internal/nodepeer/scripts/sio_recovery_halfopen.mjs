// Drives a Go Socket.IO server with the official socket.io-client: the
// client's connection is left half-open (the server does not see it go),
// broadcasts go out, and the client, back at once, recovers its session.
// Usage: node sio_recovery_halfopen.mjs <url> <mode: polling|websocket|upgrade>
// The server side is runtime/socketio/takeover_interop_test.go. Exits 0
// when the expectations hold.
import { io } from "socket.io-client";
import assert from "node:assert/strict";

const [url, mode] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
assert.ok(transports, `unknown mode ${mode}`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));

const timer = setTimeout(() => { console.error("scenario timed out"); process.exit(2); }, 15000);
try {
  const s = io(url, { transports, upgrade: mode === "upgrade", forceNew: true,
    reconnectionDelay: 1, reconnectionDelayMax: 20, randomizationFactor: 0 });
  await once(s, "connect");
  if (mode === "upgrade" && s.io.engine.transport.name !== "websocket") {
    await once(s.io.engine, "upgrade");
  }
  await s.emitWithAck("join", "news-room");
  const got = [];
  s.on("news", (i) => got.push(i));
  await s.emitWithAck("news-now", "news-room", 3);
  const until = async (n) => {
    for (let t = 0; got.length < n && t < 200; t++) await sleep(25);
  };
  await until(3);
  const id = s.id;
  const reconnected = new Promise((resolve) => s.once("disconnect", () => s.once("connect", resolve)));
  s.emit("strand-and-broadcast", "news-room", 3, 20);
  await reconnected;
  assert.equal(s.recovered, true, "socket.recovered");
  assert.equal(s.id, id, "same socket id");
  await until(23);
  await sleep(100);
  assert.deepEqual(got, Array.from({ length: 23 }, (_, i) => i));
  // Once, as a lost connection: over WebSocket ended by the claim; over
  // polling the server may see the old session fail by itself first.
  const left = await s.emitWithAck("left", id);
  assert.equal(left.length, 1, `the old socket left ${left.length} times`);
  const lost = mode === "polling" ? ["transport close", "transport error"] : ["transport close"];
  assert.ok(lost.includes(left[0]), `the old socket left with ${left[0]}`);
  s.disconnect();
  clearTimeout(timer);
  console.log(`ok ${mode}`);
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
