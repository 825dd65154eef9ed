// Drives the Go chat service with the generated TypeScript client on the
// official socket.io-client. Usage: node rpc_client.mjs <url> <scenario>
// (the Go test bundles this file with esbuild first).
import assert from "node:assert/strict";
import { io, type Socket } from "socket.io-client";
import { ChatClientServiceHandler, ChatServiceClient, registerChatClientServiceHandler } from "../../../gen/ts/example/chat/v1/chat_sio.js";
import { RpcError } from "@sio-dev/runtime";

const [url, scenario] = process.argv.slice(2) as [string, string];

async function connect(): Promise<Socket> {
  const socket = io(url + "/chat", { transports: ["websocket"], forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  return socket;
}

async function rejects(p: Promise<unknown>, code: string): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `not an RpcError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

const scenarios: Record<string, () => Promise<void>> = {
  async unary() {
    const socket = await connect();
    const chat = new ChatServiceClient(socket);
    const res = await chat.join({ room: "lobby", user: "ann" }, { headers: { "x-tag": "from-ts" } });
    assert.deepEqual(res.members, ["ann", "from-ts"]);
    const sent = await chat.sendMessage({ room: "lobby", user: "ann", text: "hi" });
    assert.equal(typeof sent.id, "bigint");
    const err = await rejects(chat.join({ user: "bob" }), "invalid_argument");
    assert.equal(err.rawMessage, "room is required");
    assert.equal(err.details[0]?.type, "example.chat.v1.JoinRequest");
    socket.close();
  },

  async deadline() {
    const socket = await connect();
    const chat = new ChatServiceClient(socket);
    const start = Date.now();
    await rejects(chat.sendMessage({ text: "slow" }, { timeoutMs: 150 }), "deadline_exceeded");
    assert.ok(Date.now() - start < 2000);
    // Stay connected a moment: the server's handler must stop at the same
    // deadline on its own, not because the socket went away.
    await new Promise((r) => setTimeout(r, 300));
    socket.close();
  },

  async abort() {
    const socket = await connect();
    const chat = new ChatServiceClient(socket);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(chat.sendMessage({ text: "slow" }, { signal: ac.signal, timeoutMs: 5000 }), "canceled");
    socket.close();
  },

  async stream() {
    const [a, b] = await Promise.all([connect(), connect()]);
    const watcher = new ChatServiceClient(a);
    const sender = new ChatServiceClient(b);
    const n = 30;
    const got: string[] = [];
    const feed = watcher.watchRoom({ room: "ts-room" });
    const iterator = feed[Symbol.asyncIterator]();
    // The first next() subscribes; publish once it is in place.
    const first = iterator.next();
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < n; i++) await sender.sendMessage({ room: "ts-room", user: "bob", text: String(i) });
    await sender.sendMessage({ room: "ts-room", text: "end" }); // the server ends the stream after this one
    let r = await first;
    while (!r.done) {
      got.push(r.value.message?.text ?? "");
      r = await iterator.next();
    }
    assert.deepEqual(got, [...Array.from({ length: n }, (_, i) => String(i)), "end"]);
    a.close();
    b.close();
  },

  async unsubscribe() {
    const [a, b] = await Promise.all([connect(), connect()]);
    const watcher = new ChatServiceClient(a);
    const sender = new ChatServiceClient(b);
    const iterator = watcher.watchRoom({ room: "leave-room" })[Symbol.asyncIterator]();
    const first = iterator.next();
    await new Promise((r) => setTimeout(r, 100));
    await sender.sendMessage({ room: "leave-room", text: "one" });
    const r = await first;
    assert.equal(r.done, false);
    await iterator.return?.(); // what "break" does in for await
    await new Promise((r) => setTimeout(r, 100));
    // The Go test checks that the socket left the room.
    console.log("left");
    a.close();
    b.close();
  },

  async forbidden() {
    const socket = await connect();
    const chat = new ChatServiceClient(socket);
    await rejects((async () => { for await (const _ of chat.watchRoom({ room: "forbidden" })) { /* none */ } })(), "permission_denied");
    socket.close();
  },

  async serverCallsClient() {
    const socket = await connect();
    const asked: string[] = [];
    const handler: ChatClientServiceHandler = {
      async confirm(request, context) {
        asked.push(request.question);
        assert.equal(context.event, "example.chat.v1.ChatClientService/Confirm");
        return { confirmed: true };
      },
    };
    const stop = registerChatClientServiceHandler(socket, handler);
    const chat = new ChatServiceClient(socket);
    const res = await chat.join({ room: "r", user: "confirm-me" });
    assert.deepEqual(res.members, ["confirmed"]);
    assert.deepEqual(asked, ["may confirm-me join r?"]);
    stop();
    socket.close();
  },
};

const run = scenarios[scenario];
assert.ok(run, `unknown scenario ${scenario}`);
const timer = setTimeout(() => {
  console.error("scenario timed out");
  process.exit(2);
}, 15000);
try {
  await run();
  clearTimeout(timer);
  console.log(`ok ${scenario}`);
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
