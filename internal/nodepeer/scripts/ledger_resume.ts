// Per-call streams across lost connections, with the generated TypeScript
// client on the official socket.io-client: the ledger (run by the Go test
// with connection state recovery) is reached through a proxy that the
// control server cuts when asked (/cut). Two TransferEach streams run at
// once while the connection is cut several times; every answer must come
// once, in order, and the streams must end cleanly.
// Usage: node ledger_resume.ts <proxied ledger url> <control url>
import { io } from "socket.io-client";
import { LedgerServiceClient } from "../../../gen/ts/example/ledger/v1/ledger_sio.js";

const [url, control] = process.argv.slice(2) as [string, string];
const timer = setTimeout(() => {
  console.error("the resume scenario timed out");
  process.exit(2);
}, 60_000);

const socket = io(url + "/ledger", { transports: ["websocket"], reconnectionDelay: 20, reconnectionDelayMax: 100, randomizationFactor: 0 });
let recovered = 0;
socket.on("connect", () => {
  if (socket.recovered) recovered++;
});
const client = new LedgerServiceClient(socket);

const total = 800;
async function* transfers(name: string) {
  for (let i = 0; i < total; i++) {
    yield { transfer: { id: `${name}-${i}`, amount: 1n } };
    if (name === "a" && i % 200 === 100) await fetch(control + "/cut");
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

async function run(name: string): Promise<void> {
  const got: string[] = [];
  for await (const res of client.transferEach(transfers(name), { timeoutMs: 50_000 })) got.push(res.record?.id ?? "?");
  const want = Array.from({ length: total }, (_, i) => `${name}-${i}`);
  const bad = got.findIndex((id, i) => id !== want[i]);
  if (got.length !== total || bad >= 0) {
    throw new Error(`stream ${name}: ${got.length} answers, first wrong at ${bad}: ${got[bad]} (lost, repeated or reordered)`);
  }
}

await Promise.all([run("a"), run("b")]);
if (recovered === 0) throw new Error("no reconnection recovered the session");
clearTimeout(timer);
console.log(`ok ${recovered} recovered reconnections`);
socket.close();
process.exit(0);
