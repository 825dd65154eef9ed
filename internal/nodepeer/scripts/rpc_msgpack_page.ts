// A page that drives the Go chat service with the generated TypeScript
// client on socket.io-client with the MessagePack parser
// (socket.io-msgpack-parser), whose browser build carries only
// ArrayBuffers as binary: unary calls, a room stream, and a call the
// server makes to the page. It sets document.title to "ok" or "fail: ...".
// Bundled whole by runtime/rpc's TestTypeScriptClientOverMessagePackInChromium.
import { io, type Socket } from "socket.io-client";
import * as msgpackParser from "socket.io-msgpack-parser";
import { ChatServiceClient, registerChatClientServiceHandler } from "../../../gen/ts/example/chat/v1/chat_sio.js";

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

async function connect(transports: string[]): Promise<Socket> {
  const socket = io(location.origin + "/chat", { transports, forceNew: true, parser: msgpackParser });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  return socket;
}

async function round(transports: string[]): Promise<void> {
  const [a, b] = await Promise.all([connect(transports), connect(transports)]);
  const watcher = new ChatServiceClient(a);
  const sender = new ChatServiceClient(b);

  const joined = await sender.join({ room: "lobby", user: "ann" }, { headers: { "x-tag": "mp" } });
  check(joined.members.join() === "ann,mp", `join answered ${joined.members.join()}`);

  const feed = watcher.watchRoom({ room: "mp-room" })[Symbol.asyncIterator]();
  const first = feed.next(); // subscribes
  await new Promise((r) => setTimeout(r, 100));
  const n = 20;
  for (let i = 0; i < n; i++) await sender.sendMessage({ room: "mp-room", user: "bob", text: "é😀 " + i });
  await sender.sendMessage({ room: "mp-room", text: "end" }); // the server ends the stream after it
  const got: string[] = [];
  for (let r = await first; !r.done; r = await feed.next()) got.push(r.value.message?.text ?? "");
  const want = [...Array.from({ length: n }, (_, i) => "é😀 " + i), "end"];
  check(got.join("|") === want.join("|"), `the stream brought ${got.join("|")}`);

  // The server asks the page (its reply is binary the page sends).
  const stop = registerChatClientServiceHandler(a, { confirm: () => ({ confirmed: true }) });
  const confirmed = await watcher.join({ room: "r", user: "confirm-me" });
  check(confirmed.members.join() === "confirmed", `confirm-me got ${confirmed.members.join()}`);
  stop();
  a.close();
  b.close();
}

round(["websocket"])
  .then(() => round(["polling"]))
  .then(
    () => (document.title = "ok"),
    (err: unknown) => (document.title = "fail: " + String(err instanceof Error ? err.message : err)),
  );
