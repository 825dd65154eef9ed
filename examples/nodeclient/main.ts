// Calls the chat example from Node with the generated TypeScript client on
// socket.io-client: joins a room, watches it, sends a message, and prints
// the feed until its own message comes back.
//
//   make nodeclient URL=http://127.0.0.1:8080
import { io } from "socket.io-client";
import { ChatServiceClient, ChatServiceNamespace } from "../../gen/ts/example/chat/v1/chat_sio.js";

const url = process.argv[2] ?? "http://127.0.0.1:8080";
const socket = io(url + ChatServiceNamespace);
const chat = new ChatServiceClient(socket);
const room = "lobby";

try {
  const feed = chat.watchRoom({ room }, { timeoutMs: 5000 })[Symbol.asyncIterator]();
  const first = feed.next(); // subscribes
  const joined = await chat.join({ room, user: "node" }, { timeoutMs: 5000 });
  console.log(`in ${room}: ${joined.members.join(", ")}`);
  const sent = await chat.sendMessage({ room, user: "node", text: "hello from Node" }, { timeoutMs: 5000 });
  console.log(`stored as #${sent.id}`);
  for (let r = await first; !r.done; r = await feed.next()) {
    const m = r.value.message;
    console.log(`#${m?.id} ${m?.user}: ${m?.text}`);
    if (m?.id === sent.id) break;
  }
  await feed.return?.();
} finally {
  socket.close();
}
