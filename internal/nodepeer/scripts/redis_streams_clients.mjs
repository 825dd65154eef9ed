// Official socket.io-client 4.8 sockets on a Go node and a Node node that
// share a cluster over @socket.io/redis-streams-adapter (both serving the
// events redis_streams_node.mjs describes). Usage: node
// redis_streams_clients.mjs <goURL> <nodeURL> <redisPort>. Checks
// broadcasts, rooms, acks, fetchSockets and serverSideEmit both ways, and
// that a socket disconnected from one node recovers on the other, with the
// broadcasts it missed; prints "ok <step>" per step, exits 1 on the first
// failure.
import { io } from "socket.io-client";
import { createClient } from "redis";

const [goURL, nodeURL, redisPort] = process.argv.slice(2);
const redis = createClient({ url: `redis://127.0.0.1:${redisPort}` });
await redis.connect();

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// connect opens a socket (unless asked not to) with the room in its auth.
// Every socket records its "hello" events and answers "ping" with its id.
function socket(url, room, { autoConnect = true } = {}) {
  const s = io(url, { auth: { room }, transports: ["websocket"], forceNew: true, reconnection: false, autoConnect });
  s.hellos = [];
  s.on("hello", (...args) => s.hellos.push(args));
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
await until("two servers", () => true);
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
const fromNode = await recoverOn(onNode, goURL, onGo, "missed on node");
console.log("ok node session recovered on go");
// Its rooms came back with it: a broadcast to r reaches it on the Go node.
await ack(outsider, "broadcast", "r", "after recovery");
await until("a broadcast after recovery", () => texts(fromNode).includes("after recovery"));
const fromGo = await recoverOn(onGo, nodeURL, outsider, "missed on go");
console.log("ok go session recovered on node");
check(texts(fromGo).filter((t) => t === "missed on go").length === 1, "a missed broadcast arrived twice");

for (const s of [fromNode, fromGo, outsider]) s.disconnect();
await redis.quit();
console.log("done");
process.exit(0);
