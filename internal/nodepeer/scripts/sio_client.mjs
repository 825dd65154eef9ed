// Drives a Go Socket.IO server with the official socket.io-client.
// Usage: node sio_client.mjs <url> <mode: polling|websocket|upgrade> <scenario> [msgpack]
// ("msgpack" sets the client's parser option to socket.io-msgpack-parser)
// The server side is runtime/socketio/interop_test.go. Exits 0 when the
// scenario's expectations hold.
import { io, Manager } from "socket.io-client";
import assert from "node:assert/strict";
import msgpackParser from "socket.io-msgpack-parser";

const [url, mode, scenario, parserName] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
assert.ok(transports, `unknown mode ${mode}`);
assert.ok([undefined, "msgpack"].includes(parserName), `unknown parser ${parserName}`);
const base = { transports, upgrade: mode === "upgrade", reconnectionDelay: 50, reconnectionDelayMax: 100,
  ...(parserName === "msgpack" ? { parser: msgpackParser } : {}) };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));

async function connect(nsp = "/", opts = {}) {
  const socket = io(url + nsp, { ...base, forceNew: true, ...opts });
  await once(socket, "connect");
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  assert.equal(socket.io.engine.transport.name, mode === "polling" ? "polling" : "websocket");
  return socket;
}

const bytes = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256));

const scenarios = {
  async connect() {
    const s = await connect();
    assert.equal(typeof s.id, "string");
    assert.ok(s.id.length >= 20, `socket id ${s.id} looks guessable`);
    assert.notEqual(s.id, s.io.engine.id, "socket id must differ from the engine session id");
    s.disconnect();
  },

  async authRejected() {
    const s = io(url, { ...base, forceNew: true, auth: { token: "bad" }, reconnection: false });
    const [err] = await once(s, "connect_error");
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { reason: "bad token" });
    s.close();
  },

  async authAccepted() {
    const s = await connect("/", { auth: { token: "good" } });
    const [user] = await new Promise((resolve) => s.emit("whoami", (...a) => resolve(a)));
    assert.equal(user, "good");
    s.disconnect();
  },

  async multiplex() {
    const manager = new Manager(url, base);
    const main = manager.socket("/");
    const admin = manager.socket("/admin");
    const welcome = once(admin, "welcome");
    await Promise.all([once(main, "connect"), once(admin, "connect")]);
    assert.deepEqual(await welcome, ["/admin"]);
    // One Engine.IO connection carries both namespaces.
    assert.equal(main.io.engine, admin.io.engine);
    const unknown = manager.socket("/nope");
    const [err] = await once(unknown, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    main.disconnect(); admin.disconnect(); unknown.disconnect();
  },

  async acks() {
    const s = await connect();
    const back = await s.emitWithAck("echo", 1, "two", { three: [3] });
    assert.deepEqual(back, 1); // emitWithAck resolves with the first ack argument
    const all = await new Promise((resolve) => s.emit("echo", 1, "two", { three: [3] }, (...a) => resolve(a)));
    assert.deepEqual(all, [1, "two", { three: [3] }]);
    // Server -> client ack: the server asks, the client answers, the server reports the answer.
    s.on("question", (a, b, c, cb) => cb(a + 1, b.toUpperCase(), Buffer.concat([c, Buffer.from([4])])));
    const answer = await new Promise((resolve) => s.emit("ask-client", (...a) => resolve(a)));
    assert.equal(answer[0], 2);
    assert.equal(answer[1], "TWO");
    assert.deepEqual(Buffer.from(answer[2]), Buffer.from([3, 4]));
    s.disconnect();
  },

  async binary() {
    const s = await connect();
    const payload = { a: bytes(256), nested: { list: [bytes(10, 1), "text", bytes(0)], n: 5 } };
    const got = new Promise((resolve) => s.once("echo", (...a) => resolve(a)));
    s.emit("echo", payload, bytes(70000, 3));
    const [obj, big] = await got;
    assert.deepEqual(Buffer.from(obj.a), payload.a);
    assert.deepEqual(Buffer.from(obj.nested.list[0]), payload.nested.list[0]);
    assert.equal(obj.nested.list[1], "text");
    assert.equal(Buffer.from(obj.nested.list[2]).length, 0);
    assert.equal(obj.nested.n, 5);
    assert.deepEqual(Buffer.from(big), bytes(70000, 3));
    // And in an ack.
    const acked = await new Promise((resolve) => s.emit("echo", bytes(5, 9), (b) => resolve(b)));
    assert.deepEqual(Buffer.from(acked), bytes(5, 9));
    s.disconnect();
  },

  async rooms() {
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    await Promise.all([a.emitWithAck("join", "r1"), b.emitWithAck("join", "r1")]);
    const seen = { a: [], b: [], c: [] };
    a.on("room-msg", (m) => seen.a.push(m));
    b.on("room-msg", (m) => seen.b.push(m));
    c.on("room-msg", (m) => seen.c.push(m));
    await a.emitWithAck("to-room", "r1", "hello r1");   // socket.to(): everyone in r1 but the sender
    await a.emitWithAck("except", "r1", "not for r1");   // nsp.except(): everyone outside r1
    await sleep(100);
    assert.deepEqual(seen.a, []);
    assert.deepEqual(seen.b, ["hello r1"]);
    assert.deepEqual(seen.c, ["not for r1"]);
    a.disconnect(); b.disconnect(); c.disconnect();
  },

  async broadcastAck() {
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    a.on("ping-all", (cb) => cb("a"));
    b.on("ping-all", (cb) => cb("b"));
    c.on("ping-all", () => {}); // never answers
    const result = await a.emitWithAck("broadcast-ack");
    assert.equal(result.timedOut, true);
    assert.equal(result.expected, 3);
    assert.deepEqual(result.responses.sort(), ["a", "b"]);
    c.disconnect();
    await sleep(200); // let the server see c leave (over polling, a separate request)
    const result2 = await a.emitWithAck("broadcast-ack");
    assert.equal(result2.timedOut, false);
    assert.deepEqual(result2.responses.sort(), ["a", "b"]);
    a.disconnect(); b.disconnect();
  },

  async volatile() {
    const s = await connect();
    await sleep(50); // let the transport settle so it can take volatile packets
    const got = once(s, "v");
    s.emit("volatile");
    assert.deepEqual(await got, ["volatile data"]);
    s.disconnect();
  },

  async serverDisconnect() {
    const s = await connect();
    const [reason] = await new Promise((resolve) => { s.once("disconnect", (...a) => resolve(a)); s.emit("disconnect-me"); });
    assert.equal(reason, "io server disconnect");
    await sleep(300);
    assert.equal(s.connected, false, "a server-initiated disconnect must not reconnect");
    s.close();
  },

  async clientDisconnect() {
    const s = await connect();
    const reason = once(s, "disconnect");
    s.disconnect();
    assert.equal((await reason)[0], "io client disconnect");
  },

  async transportCloseReconnects() {
    const s = await connect();
    const firstId = s.id;
    const [reason] = await new Promise((resolve) => { s.once("disconnect", (...a) => resolve(a)); s.emit("drop-me"); });
    assert.ok(["transport close", "transport error"].includes(reason), `reason ${reason}`);
    await once(s, "connect");
    assert.notEqual(s.id, firstId);
    const back = await s.emitWithAck("echo", "after reconnect");
    assert.equal(back, "after reconnect");
    s.disconnect();
  },

  async parseError() {
    const s = await connect();
    const [reason] = await new Promise((resolve) => { s.once("disconnect", (...a) => resolve(a)); s.emit("bad-packet"); });
    assert.equal(reason, "parse error");
    s.close();
  },

  // The network goes silent: no ping reaches the client.
  async pingTimeout() {
    const s = await connect("/", { reconnection: false });
    const reason = once(s, "disconnect");
    s.emit("freeze-network");
    assert.equal((await reason)[0], "ping timeout");
    s.close();
  },

  // The connection is reset: polling reports a failed request, WebSocket a close.
  async networkCut() {
    const s = await connect("/", { reconnection: false });
    const reason = once(s, "disconnect");
    s.emit("cut-network");
    assert.equal((await reason)[0], mode === "polling" ? "transport error" : "transport close");
    s.close();
  },

  // Connection state recovery: broadcasts sent while the client is away
  // arrive after it reconnects, exactly once and in order, on the same id.
  async recovery() {
    const s = await connect();
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
    s.emit("drop-and-broadcast", "news-room", 3, 20);
    await reconnected;
    assert.equal(s.recovered, true, "socket.recovered");
    assert.equal(s.id, id, "same socket id");
    await until(23);
    await sleep(100);
    assert.deepEqual(got, Array.from({ length: 23 }, (_, i) => i));
    s.disconnect();
  },

  async oversize() {
    const s = await connect("/", { reconnection: false });
    const reason = once(s, "disconnect");
    s.emit("echo", "x".repeat(200000));
    const [r] = await reason;
    assert.ok(["transport close", "transport error"].includes(r), `reason ${r}`);
    s.close();
  },
};

const run = scenarios[scenario];
assert.ok(run, `unknown scenario ${scenario}`);
const timer = setTimeout(() => { console.error("scenario timed out"); process.exit(2); }, 15000);
try {
  await run();
  clearTimeout(timer);
  console.log(`ok ${mode} ${scenario}`);
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
