// Clients of the shutdown attack (internal/attack/shutdown_test.go): n
// official socket.io-clients with connection state recovery, through a
// proxy to a node that is stopped while broadcasts flow. Each counts the
// ticks 0..expect-1 it gets. Prints "ready" once all are connected, then,
// when every client has tick expect-1 or 20 s have passed, one JSON line:
// {clients, reconnected, recovered, lost, duplicated, reordered}.
// Usage: node shutdown_clients.mjs <url> <n> <expect>
import { io } from "socket.io-client";

const [url, n, expect] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const clients = [];
for (let i = 0; i < n; i++) {
  const c = { got: [], reconnects: 0, recovered: 0 };
  c.socket = io(url, { transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 200 });
  c.socket.on("tick", (i) => c.got.push(i));
  let first = true;
  c.socket.on("connect", () => {
    if (!first) {
      c.reconnects++;
      if (c.socket.recovered) c.recovered++;
    }
    first = false;
  });
  c.connected = new Promise((resolve) => c.socket.once("connect", resolve));
  clients.push(c);
}
await Promise.all(clients.map((c) => c.connected));
console.log("ready");
const deadline = Date.now() + 20000;
while (Date.now() < deadline && !clients.every((c) => c.got.includes(expect - 1))) {
  await new Promise((r) => setTimeout(r, 50));
}
await new Promise((r) => setTimeout(r, 200)); // duplicates arrive late, if at all
const result = { clients: n, reconnected: 0, recovered: 0, lost: 0, duplicated: 0, reordered: 0 };
for (const c of clients) {
  if (c.reconnects > 0) result.reconnected++;
  if (c.recovered > 0 && c.recovered === c.reconnects) result.recovered++;
  const seen = new Set(c.got);
  for (let i = 0; i < expect; i++) if (!seen.has(i)) result.lost++;
  result.duplicated += c.got.length - seen.size;
  for (let i = 1; i < c.got.length; i++) if (c.got[i] < c.got[i - 1]) result.reordered++;
  c.socket.close();
}
console.log(JSON.stringify(result));
process.exit(0);
