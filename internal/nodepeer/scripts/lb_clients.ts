// Chat clients behind a load balancer (examples/cluster's nginx.conf and haproxy.cfg): the official
// socket.io-client with the generated ChatServiceClient, each from its own
// loopback address (so that nginx's hash on the remote address spreads them
// over the nodes), half of them on long-polling only, half upgrading to
// WebSocket. A message reaches every client, on every node; then the control
// server kills a node (/kill) and the clients that were on it reconnect to
// another, join again and hear the next messages.
// Usage: node lb_clients.ts <balancer url> <control url> [cookies]
// ("cookies": the clients keep cookies, for a balancer that routes on one).
import http from "node:http";
import { io, type Socket } from "socket.io-client";
import { ChatServiceClient, ChatServiceNamespace } from "../../../gen/ts/example/chat/v1/chat_sio.js";

const [url, control, cookies] = process.argv.slice(2) as [string, string, string | undefined];
const timer = setTimeout(() => {
  console.error("the load-balancer scenario timed out");
  process.exit(2);
}, 80_000);

interface Client {
  name: string;
  socket: Socket;
  chat: ChatServiceClient;
  heard: Set<string>;
}

// The clients whose reconnection after the kill resumed their session on
// another node (the killed node's sessions are on Redis).
const recovered = new Set<string>();

async function open(i: number): Promise<Client> {
  const agent = new http.Agent({ localAddress: `127.0.0.${10 + i}`, keepAlive: true });
  const transports = i % 2 === 0 ? ["polling"] : ["polling", "websocket"];
  // socket.io-client's types say agent is a string or boolean; in Node it is passed on to the
  // HTTP requests and the WebSocket, where an http.Agent is what it takes.
  const socket = io(url + ChatServiceNamespace, { transports, agent: agent as unknown as string, withCredentials: cookies === "cookies", reconnectionDelay: 100, reconnectionDelayMax: 500 });
  const c: Client = { name: `u${i}`, socket, chat: new ChatServiceClient(socket), heard: new Set() };
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  await c.chat.join({ room: "lobby", user: c.name }, { timeoutMs: 10_000 });
  // A page joins again after a reconnection that did not keep its session.
  socket.on("connect", () => {
    if (socket.recovered) recovered.add(c.name);
    else c.chat.join({ room: "lobby", user: c.name }, { timeoutMs: 10_000 }).catch(() => undefined);
  });
  void (async () => {
    for await (const update of c.chat.watchRoom({ room: "lobby" }, { onGap: () => undefined })) {
      if (update.message?.user) c.heard.add(update.message.text);
    }
  })().catch((err: unknown) => console.error(`${c.name}'s feed ended:`, err));
  return c;
}

async function until(what: string, ok: () => boolean, ms: number, tick?: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await tick?.();
    await new Promise((r) => setTimeout(r, 100));
  }
}

const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => open(i)));
// The subscriptions are in place once a message sent now reaches everyone.
let n = 0;
await until("a message reaching every client through every node", () => clients.every((c) => [...c.heard].some((t) => t.startsWith("before"))), 15_000, async () => {
  await clients[1]!.chat.sendMessage({ room: "lobby", user: "u1", text: `before ${n++}` }, { timeoutMs: 5000 }).catch(() => undefined);
});
const upgraded = clients.filter((c) => c.socket.io.engine.transport.name === "websocket").length;

await fetch(control + "/kill");
// Any client may send: those that moved have joined again on their new node.
let k = 0;
await until("a message after the kill reaching every client", () => clients.every((c) => [...c.heard].some((t) => t.startsWith("after"))), 30_000, async () => {
  const from = clients[k % clients.length]!;
  k++;
  await from.chat.sendMessage({ room: "lobby", user: from.name, text: `after ${k}` }, { timeoutMs: 3000 }).catch(() => undefined);
});
clearTimeout(timer);
// The moved clients reconnect at once; give their recoveries a moment to be counted.
await until("the moved clients connected again", () => clients.every((c) => c.socket.connected), 10_000);
console.log(`ok ${upgraded} on websocket, ${clients.filter((c) => c.socket.connected).length} connected, ${recovered.size} recovered`);
for (const c of clients) c.socket.close();
process.exit(0);
