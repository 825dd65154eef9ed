// Drives a Go Engine.IO server with the official engine.io-client.
// Usage: node eio_client.mjs <url> <mode: polling|websocket|upgrade> <scenario>
// Exits 0 when the scenario's expectations hold; prints why otherwise.
import { Socket } from "engine.io-client";
import assert from "node:assert/strict";

const [url, mode, scenario] = process.argv.slice(2);

const transportOpts = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"] },
}[mode];
assert.ok(transportOpts, `unknown mode ${mode}`);

function open() {
  const socket = new Socket(url, { ...transportOpts, path: "/engine.io/" });
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

function nextMessage(socket) {
  return new Promise((resolve) => socket.once("message", resolve));
}

function closed(socket) {
  return new Promise((resolve) => socket.once("close", (reason) => resolve(reason)));
}

async function settleTransport(socket) {
  if (mode === "upgrade" && socket.transport.name !== "websocket") {
    await new Promise((resolve) => socket.once("upgrade", resolve));
  }
  assert.equal(socket.transport.name, mode === "polling" ? "polling" : "websocket");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
  // Text and binary both ways, byte for byte.
  async echo() {
    const socket = await open();
    await settleTransport(socket);
    socket.send("hello €");
    assert.equal(await nextMessage(socket), "hello €");
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    socket.send(bytes);
    const back = await nextMessage(socket);
    assert.ok(typeof back !== "string", "binary came back as text");
    assert.deepEqual(Buffer.from(back), Buffer.from(bytes));
    socket.close();
  },

  // Many messages in a burst keep their order (and, for polling, are batched).
  async burst() {
    const socket = await open();
    const got = [];
    const done = new Promise((resolve) =>
      socket.on("message", (m) => { got.push(m); if (got.length === 200) resolve(); }));
    for (let i = 0; i < 200; i++) socket.send(String(i));
    await done;
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => String(i)));
    socket.close();
  },

  // A message over maxHttpBufferSize ends the session.
  async oversize() {
    const socket = await open();
    await settleTransport(socket);
    const reason = closed(socket);
    socket.send("x".repeat(2000));
    const r = await reason;
    assert.ok(["transport close", "transport error"].includes(r), `close reason ${r}`);
  },

  // An idle session survives many heartbeat intervals (100ms in the test server).
  async heartbeat() {
    const socket = await open();
    await settleTransport(socket);
    let closedEarly = null;
    socket.on("close", (r) => { closedEarly = r; });
    let pings = 0;
    socket.on("ping", () => pings++);
    await sleep(1000);
    assert.equal(closedEarly, null, `closed while idle: ${closedEarly}`);
    assert.ok(pings >= 5, `only ${pings} pings in 1s`);
    socket.send("alive");
    assert.equal(await nextMessage(socket), "alive");
    socket.close();
  },

  // The server closes the session: the client sees "transport close".
  async serverClose() {
    const socket = await open();
    await settleTransport(socket);
    const reason = closed(socket);
    socket.send("close me");
    assert.equal(await reason, "transport close");
  },
};

const run = scenarios[scenario];
assert.ok(run, `unknown scenario ${scenario}`);
const timer = setTimeout(() => { console.error("scenario timed out"); process.exit(2); }, 10000);
try {
  await run();
  clearTimeout(timer);
  console.log(`ok ${mode} ${scenario}`);
} catch (err) {
  console.error(err);
  process.exit(1);
}
