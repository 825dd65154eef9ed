// Drives examples/plain with the official socket.io-client: binary echo in
// an ack, rooms and relayed chat. Usage: node plain_client.mjs <url>
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.argv[2];
const connect = () => new Promise((resolve, reject) => {
  const s = io(url, { forceNew: true });
  s.once("connect", () => resolve(s));
  s.once("connect_error", reject);
});
const [a, b] = await Promise.all([connect(), connect()]);
try {
  const [text, blob] = await new Promise((resolve) => a.emit("echo", "hi", Buffer.from([1, 2, 3]), (...args) => resolve(args)));
  assert.equal(text, "hi");
  assert.deepEqual(Buffer.from(blob), Buffer.from([1, 2, 3]));
  const rooms = await b.emitWithAck("join", "r");
  assert.ok(rooms.includes("r"));
  const got = new Promise((resolve) => b.once("chat", resolve));
  a.emit("chat", { room: "r", text: "hello" });
  assert.deepEqual(await got, { from: a.id, text: "hello" });
  console.log("ok plain");
} finally {
  a.close();
  b.close();
}
