// Official socket.io-client 4.8 sockets on a Go node and a Node node that
// share a cluster over one adapter (both serving the events that
// internal/adaptertest's MixedSetup describes). Usage: node
// cluster_clients.mjs <goURL> <nodeURL> [large] [recovery-redis=<port>].
// Checks broadcasts (text and binary), rooms, acks, fetchSockets and
// serverSideEmit both ways; with "large", broadcasts of 100 000 bytes and
// characters both ways (over PostgreSQL's NOTIFY limit); with
// "recovery-redis", that a socket disconnected from one node recovers on
// the other, with the broadcasts it missed, its session kept in that
// Redis. Prints "ok <step>" per step, exits 1 on the first failure.
import { io } from "socket.io-client";
import { createClient } from "redis";

const [goURL, nodeURL, ...options] = process.argv.slice(2);
const large = options.includes("large");
const recoveryPort = options.find((o) => o.startsWith("recovery-redis="))?.split("=")[1];
const redis = recoveryPort ? createClient({ url: `redis://127.0.0.1:${recoveryPort}` }) : null;
await redis?.connect();

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// socket opens a socket (unless asked not to) with the room in its auth.
// Every socket records its "hello" and "big" events and answers "ping"
// with its id.
function socket(url, room, { autoConnect = true } = {}) {
  const s = io(url, { auth: { room }, transports: ["websocket"], forceNew: true, reconnection: false, autoConnect });
  s.hellos = [];
  s.bigs = [];
  s.on("hello", (...args) => s.hellos.push(args));
  s.on("big", (...args) => s.bigs.push(args));
  s.on("ping", (ack) => ack(s.id));
  return s;
}
function connected(s) {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve();
    const t = setTimeout(() => reject(new Error("connect timed out")), 5000);
    s.once("connect", () => { clearTimeout(t); resolve(); });
    s.once("connect_error", (e) => { clearTimeout(t); reject(e); });
  });
}
async function until(what, cond) {
  for (let i = 0; i < 250; i++) {
    if (cond()) return;
    await sleep(20);
  }
  fail(`timed out waiting for ${what}`);
}
const texts = (s) => s.hellos.map((a) => a[0]);
const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);

const onGo = socket(goURL, "r");
const onNode = socket(nodeURL, "r");
const outsider = socket(nodeURL, "other");
await Promise.all([onGo, onNode, outsider].map(connected));
check((await ack(onGo, "count")) === 2 && (await ack(onNode, "count")) === 2, "both nodes count two servers");
console.log("ok count");

await ack(onGo, "broadcast", "r", "from go");
await until("go's broadcast on both nodes", () => texts(onGo).includes("from go") && texts(onNode).includes("from go"));
const bin = onNode.hellos.find((a) => a[0] === "from go")[1];
check(Buffer.from(bin).equals(Buffer.from([1, 2])), `binary from go arrived as ${JSON.stringify(bin)}`);
await ack(onNode, "broadcast", "r", "from node");
await until("node's broadcast on both nodes", () => texts(onGo).includes("from node") && texts(onNode).includes("from node"));
const binNode = onGo.hellos.find((a) => a[0] === "from node")[1];
check(Buffer.from(binNode).equals(Buffer.from([7, 8, 9])), `binary from node arrived as ${JSON.stringify(binNode)}`);
await sleep(200);
check(outsider.hellos.length === 0, `the outsider got ${JSON.stringify(outsider.hellos)}`);
console.log("ok broadcasts and rooms");

if (large) {
  const size = 100_000;
  for (const [from, fill, letter] of [[onGo, 0x47, "g"], [onNode, 0x4e, "n"]]) {
    from.bigs.length = 0;
    const other = from === onGo ? onNode : onGo;
    other.bigs.length = 0;
    await ack(from, "broadcast-big", "r", size);
    await until(`the large broadcast on the other node`, () => other.bigs.length === 1);
    const [b, text] = other.bigs[0];
    check(Buffer.from(b).equals(Buffer.alloc(size, fill)), `large binary arrived as ${Buffer.from(b).length} bytes`);
    check(text === letter.repeat(size), `large text arrived as ${String(text).length} characters`);
  }
  await sleep(200);
  check(outsider.bigs.length === 0, "the outsider got a large broadcast");
  console.log("ok large broadcasts");
}

const want = [onGo.id, onNode.id].sort();
for (const [s, name] of [[onGo, "go"], [onNode, "node"]]) {
  const got = await ack(s, "broadcast-ack", "r");
  check(JSON.stringify(got) === JSON.stringify(want), `${name}'s broadcast acks ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
console.log("ok broadcast acks");

const all = [onGo.id, onNode.id, outsider.id].sort();
for (const [s, name] of [[onGo, "go"], [onNode, "node"]]) {
  const got = await ack(s, "fetch");
  check(JSON.stringify(got.map((x) => x.id).sort()) === JSON.stringify(all), `${name} fetched ${JSON.stringify(got)}`);
  const remote = got.find((x) => x.id === (s === onGo ? onNode.id : onGo.id));
  check(remote.data.room === "r" && remote.rooms.includes("r"), `${name} sees the remote socket as ${JSON.stringify(remote)}`);
}
console.log("ok fetchSockets");

check(JSON.stringify(await ack(onGo, "sse")) === JSON.stringify(["node got x"]), "go's serverSideEmit answers");
check(JSON.stringify(await ack(onNode, "sse")) === JSON.stringify(["go got x"]), "node's serverSideEmit answers");
console.log("ok serverSideEmit");

// recoverOn drops s's connection, has other broadcast while s is away,
// and resumes s's session on url: same id, rooms kept, the missed
// broadcast delivered.
async function recoverOn(s, url, other, text) {
  const { _pid: pid, _lastOffset: offset, id } = s;
  check(pid && offset, `no session to recover (pid ${pid}, offset ${offset})`);
  s.io.engine.close();
  await until("the session to be kept", () => false === s.connected);
  for (let i = 0; i < 250 && !(await redis.exists(`sio:session:${pid}`)); i++) await sleep(20);
  check(await redis.exists(`sio:session:${pid}`), "the session was not kept in Redis");
  await ack(other, "broadcast", "r", text);
  const back = socket(url, "r", { autoConnect: false });
  back._pid = pid;
  back._lastOffset = offset;
  back.connect();
  await connected(back);
  check(back.recovered, "the session was not recovered");
  check(back.id === id, `recovered as ${back.id}, was ${id}`);
  await until(`the missed broadcast "${text}"`, () => texts(back).includes(text));
  return back;
}
let open = [onGo, onNode, outsider];
if (redis) {
  const fromNode = await recoverOn(onNode, goURL, onGo, "missed on node");
  console.log("ok node session recovered on go");
  // Its rooms came back with it: a broadcast to r reaches it on the Go node.
  await ack(outsider, "broadcast", "r", "after recovery");
  await until("a broadcast after recovery", () => texts(fromNode).includes("after recovery"));
  const fromGo = await recoverOn(onGo, nodeURL, outsider, "missed on go");
  console.log("ok go session recovered on node");
  check(texts(fromGo).filter((t) => t === "missed on go").length === 1, "a missed broadcast arrived twice");
  open = [fromNode, fromGo, outsider];
}

for (const s of open) s.disconnect();
await redis?.quit();
console.log("done");
process.exit(0);
