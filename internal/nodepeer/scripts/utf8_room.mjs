// The official socket.io-client in a room that a hostile client tries to
// poison with invalid UTF-8. Usage: node utf8_room.mjs <url> <mode: polling|websocket>
// The server side is runtime/socketio/utf8_interop_test.go: once this
// client has joined "room", hostile clients send invalid UTF-8 and the
// server relays to the room, then sends "tick" 0..19 and "done". Exits 0
// if this client stayed connected and got every tick and only valid text.
import { io } from "socket.io-client";
import assert from "node:assert/strict";

const [url, mode] = process.argv.slice(2);
const socket = io(url, { transports: [mode], upgrade: false, reconnection: false });
const ticks = [];
const relayed = [];
let disconnected = null;

socket.on("disconnect", (reason, details) => {
  disconnected = `${reason} ${details?.message ?? ""}`;
  console.log("disconnected:", disconnected);
  process.exit(1);
});
socket.on("relayed", (v) => relayed.push(v));
socket.on("tick", (n) => ticks.push(n));
socket.on("done", () => {
  try {
    assert.equal(disconnected, null);
    assert.deepEqual(ticks, Array.from({ length: 20 }, (_, i) => i));
    // The hostile clients' texts never arrive; the server's own bad bytes
    // arrive replaced by U+FFFD.
    assert.deepEqual(relayed, ["ok before", "bad \ufffd", "ok after"]);
    console.log("ok: stayed connected over", socket.io.engine.transport.name);
    socket.off("disconnect");
    socket.disconnect();
    process.exit(0);
  } catch (err) {
    console.log(err.message);
    process.exit(1);
  }
});
socket.on("connect", () => socket.emit("join", () => console.log("joined")));
setTimeout(() => {
  console.log("timed out; ticks:", ticks, "relayed:", relayed);
  process.exit(1);
}, 25000);
