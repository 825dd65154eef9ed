// A Node socket.io 4.8 server on @socket.io/redis-adapter 8 (or
// @socket.io/redis-streams-adapter 0.3), to share a cluster with Go nodes.
// Usage: node redis_node.mjs <redisPort> <httpPort> [classic|pubsub|sharded|streams]
// (port 0 picks a free one; classic and pubsub are createAdapter, sharded
// createShardedAdapter, streams the Redis Streams adapter). Listens on 127.0.0.1 and prints "listening <port>"
// when ready. Sockets join the room named in
// their auth; "broadcast" (room, text) emits "hello" (text, bytes) to the
// room cluster-wide; "ping" is answered in the ack.
//
// It also serves the chat's WatchRoom subscription the way runtime/rpc's
// PROTOCOL.md maps it, as any Socket.IO server can: the request names the
// room, the socket joins "<event>#<room>" and the ack names that key. And
// "publish-stream" (key, bytes) publishes one message of a typed room
// stream: a broadcast of "sio:stream" to the key's room, cluster-wide.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const [redisPort, httpPort, mode = "classic"] = process.argv.slice(2);
const pubClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer();
const adapter =
  mode === "sharded"
    ? createShardedAdapter(pubClient, subClient)
    : mode === "streams"
      ? createStreamsAdapter(pubClient)
      : createAdapter(pubClient, subClient);
const io = new Server(httpServer, { adapter });
io.use((socket, next) => {
  if (socket.handshake.auth.room) socket.join(socket.handshake.auth.room);
  socket.data = { room: socket.handshake.auth.room ?? "", node: "node" };
  next();
});
const watchRoom = "example.chat.v1.ChatService/WatchRoom";
// The chat's namespace, "/chat": the WatchRoom subscription and publish-stream.
io.of("/chat").on("connection", (socket) => {
  socket.on(watchRoom, (request, _meta, ack) => {
    // WatchRoomRequest is one field, room = 1 (a string): tag 0x0a, length, bytes.
    const req = Buffer.from(request);
    const room = req[0] === 0x0a ? req.subarray(2, 2 + req[1]).toString() : "";
    const key = `${watchRoom}#${room}`;
    socket.join(key);
    ack({ stream: key });
  });
  socket.on("publish-stream", (key, bytes, ack) => {
    socket.nsp.to(key).emit("sio:stream", key, bytes);
    ack?.();
  });
});
io.on("connection", (socket) => {
  socket.on("broadcast", (room, text, ack) => {
    io.to(room).emit("hello", text, Buffer.from([7, 8, 9]));
    ack?.();
  });
  socket.on("broadcast-ack", async (room, ack) => {
    try {
      const responses = await io.to(room).timeout(2000).emitWithAck("ping");
      ack(responses.sort());
    } catch (err) {
      ack({ error: String(err) });
    }
  });
  socket.on("count", async (ack) => ack(await io.of("/").adapter.serverCount()));
  socket.on("fetch", async (ack) => {
    const sockets = await io.fetchSockets();
    ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })).sort((a, b) => a.id.localeCompare(b.id)));
  });
});
io.on("hello-nodes", (text, ack) => ack?.(`node got ${text}`));
httpServer.listen(Number(httpPort), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
process.on("SIGTERM", async () => { io.close(); process.exit(0); });
