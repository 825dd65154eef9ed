// Drives a Go Socket.IO server with the official socket.io-client 2.x
// (protocol revision 3), beside a 4.x client where a scenario mixes them.
// Usage: node sio2_client.mjs <url> <mode: polling|polling-base64|websocket|upgrade> <scenario>
// The server side is runtime/socketio/v2client_test.go. Exits 0 when the
// scenario's expectations hold.
import { createRequire } from "node:module";
import { io as io4 } from "socket.io-client";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const io2 = require("socket.io-client-v2");

const [url, mode, scenario] = process.argv.slice(2);
const transports = { polling: ["polling"], "polling-base64": ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
assert.ok(transports, `unknown mode ${mode}`);
const base = { transports, upgrade: mode === "upgrade", forceBase64: mode === "polling-base64", reconnection: false, forceNew: true };

const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ack = (socket, ...args) => new Promise((resolve) => socket.emit(...args, (...reply) => resolve(reply)));

async function connect(nsp = "/", opts = {}) {
  const socket = io2(url + nsp, { ...base, ...opts });
  await once(socket, "connect");
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  assert.equal(socket.io.engine.transport.name, mode === "upgrade" ? "websocket" : transports[0]);
  return socket;
}

const bytes = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256));

const scenarios = {
  async connect() {
    const s = await connect();
    // The 2.x client computes its id from the session id; the server's
    // socket must carry the same one, or rooms by socket id break.
    assert.equal(s.id, s.io.engine.id);
    const [serverID, protocol] = await ack(s, "whoami");
    assert.equal(serverID, s.id);
    assert.equal(protocol, 3);
    s.close();
  },

  async namespaceQuery() {
    const s = await connect("/admin", { query: { token: "abc", n: "1" } });
    assert.equal(s.id, "/admin#" + s.io.engine.id);
    const [auth, serverID] = await ack(s, "auth");
    assert.deepEqual(auth, { token: "abc", n: "1" });
    assert.equal(serverID, s.id);
    s.close();
  },

  async middlewareError() {
    const s = io2(url + "/admin", { ...base, query: { token: "bad" } });
    const [data] = await once(s, "error");
    assert.deepEqual(data, { reason: "bad token" });
    s.close();
    const t = io2(url + "/admin", { ...base, query: { token: "none" } });
    const [message] = await once(t, "error");
    assert.equal(message, "not authorized");
    t.close();
  },

  async invalidNamespace() {
    const s = io2(url + "/nowhere", base);
    const [data] = await once(s, "error");
    assert.deepEqual(data, { message: "Invalid namespace" });
    s.close();
  },

  async acks() {
    const s = await connect();
    assert.deepEqual(await ack(s, "echo", 1, "two", { three: [3] }), [1, "two", { three: [3] }]);
    s.on("question", (a, b, fn) => fn(a + 1, b + "!"));
    assert.deepEqual(await ack(s, "ask-client"), [2, "two!"]);
    s.close();
  },

  async binary() {
    const s = await connect();
    const big = bytes(70000, 3);
    const [echoed] = await ack(s, "echo", { small: bytes(5), big, nested: [bytes(3, 9)] });
    assert.ok(Buffer.isBuffer(echoed.small), "binary comes back as a Buffer");
    assert.deepEqual(echoed.small, bytes(5));
    assert.deepEqual(echoed.big, big);
    assert.deepEqual(echoed.nested, [bytes(3, 9)]);
    // A server-initiated binary event.
    const got = once(s, "echo");
    s.emit("echo", bytes(10, 1), "text");
    const [b, text] = await got;
    assert.deepEqual(b, bytes(10, 1));
    assert.equal(text, "text");
    s.close();
  },

  async heartbeat() {
    // The server pings nobody in this revision: the client does, every
    // pingInterval (200 ms here), and must get pongs for two seconds.
    const s = await connect();
    let closed = null;
    s.on("disconnect", (reason) => (closed = reason));
    let pongs = 0;
    s.io.engine.on("pong", () => pongs++);
    await sleep(2000);
    assert.equal(closed, null, `disconnected: ${closed}`);
    assert.ok(pongs >= 5, `only ${pongs} pongs`);
    assert.deepEqual(await ack(s, "echo", "still here"), ["still here"]);
    s.close();
  },

  async mixedWithV4() {
    // A 2.x and a 4.x client in one namespace and one room: broadcasts
    // from the server and from either client reach both, binary included.
    const old = await connect();
    const cur = io4(url, { transports, forceNew: true, reconnection: false });
    await once(cur, "connect");
    await ack(old, "join", "room");
    await new Promise((resolve) => cur.emit("join", "room", resolve));
    const both = () => Promise.all([once(old, "room-msg"), once(cur, "room-msg")]);
    let got = both();
    await ack(old, "to-room-all", "room", "from v2", bytes(4));
    for (const [msg, b] of await got) {
      assert.equal(msg, "from v2");
      assert.deepEqual(Buffer.from(b), bytes(4));
    }
    got = both();
    await new Promise((resolve) => cur.emit("to-room-all", "room", "from v4", bytes(6, 2), resolve));
    for (const [msg, b] of await got) {
      assert.equal(msg, "from v4");
      assert.deepEqual(Buffer.from(b), bytes(6, 2));
    }
    old.close();
    cur.close();
  },

  async serverDisconnect() {
    const s = await connect();
    const gone = once(s, "disconnect");
    s.emit("disconnect-me");
    assert.deepEqual(await gone, ["io server disconnect"]);
    s.close();
  },

  async clientDisconnect() {
    const s = await connect();
    await ack(s, "watch-disconnect");
    s.close();
    const w = await connect();
    const [reason] = await ack(w, "last-disconnect");
    assert.equal(reason, "client namespace disconnect");
    w.close();
  },
};

const run = scenarios[scenario];
assert.ok(run, `unknown scenario ${scenario}`);
const timer = setTimeout(() => {
  console.error(`scenario ${scenario} timed out`);
  process.exit(2);
}, 20000);
await run();
clearTimeout(timer);
process.exit(0);
