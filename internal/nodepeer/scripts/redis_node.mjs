// A Node socket.io 4.8 server on @socket.io/redis-adapter 8, to share a
// cluster with Go nodes. Usage: node redis_node.mjs <redisPort> <httpPort>
// [classic|sharded] (port 0 picks a free one; sharded uses
// createShardedAdapter). Listens on 127.0.0.1 and prints "listening <port>"
// when ready. Sockets join the room named in
// their auth; "broadcast" (room, text) emits "hello" (text, bytes) to the
// room cluster-wide; "ping" is answered in the ack.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const [redisPort, httpPort, mode = "classic"] = process.argv.slice(2);
const pubClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer();
const adapter = mode === "sharded" ? createShardedAdapter(pubClient, subClient) : createAdapter(pubClient, subClient);
const io = new Server(httpServer, { adapter });
io.use((socket, next) => {
  if (socket.handshake.auth.room) socket.join(socket.handshake.auth.room);
  socket.data = { room: socket.handshake.auth.room ?? "", node: "node" };
  next();
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
