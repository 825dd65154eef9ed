// A Node socket.io 4.8 server on @socket.io/redis-streams-adapter 0.3, with
// connection state recovery, to share a cluster with Go nodes. Usage: node
// redis_streams_node.mjs <redisPort> <httpPort> (port 0 picks a free one).
// Listens on 127.0.0.1 and prints "listening <port>" when ready.
//
// Sockets join the room named in their auth. Events (each answered in its
// ack): "broadcast" (room, text) emits "hello" (text, bytes) to the room
// cluster-wide; "broadcast-big" (room, size) emits "big" (size bytes, a
// text of size characters); "broadcast-ack" (room) emits "ping" with acks
// and answers the sorted responses; "fetch" answers every socket's id,
// rooms and data; "count" answers the server count; "sse" asks the other
// nodes "who" and answers their sorted answers. It answers "who" itself
// with "node got".
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const [redisPort, httpPort] = process.argv.slice(2);
const redisClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
redisClient.on("error", () => {});
await redisClient.connect();

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(redisClient, { blockTimeInMs: 1000 }),
  connectionStateRecovery: { maxDisconnectionDuration: 60_000 },
});
io.use((socket, next) => {
  const room = socket.handshake.auth.room;
  if (room) socket.join(room);
  socket.data = { room: room ?? "" };
  next();
});
io.on("connection", (socket) => {
  socket.on("broadcast", (room, text, ack) => {
    io.to(room).emit("hello", text, Buffer.from([7, 8, 9]));
    ack?.();
  });
  socket.on("broadcast-big", (room, size, ack) => {
    io.to(room).emit("big", Buffer.alloc(size, 0x4e), "n".repeat(size));
    ack?.();
  });
  socket.on("broadcast-ack", async (room, ack) => {
    try {
      const responses = await io.to(room).timeout(3000).emitWithAck("ping");
      ack(responses.sort());
    } catch (err) {
      ack({ error: String(err) });
    }
  });
  socket.on("count", async (ack) => ack(await io.of("/").adapter.serverCount()));
  socket.on("fetch", async (ack) => {
    const sockets = await io.fetchSockets();
    ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })).sort((a, b) => a.id.localeCompare(b.id)));
  });
  socket.on("sse", async (ack) => {
    try {
      const answers = await io.serverSideEmitWithAck("who", "x");
      ack(answers.sort());
    } catch (err) {
      ack({ error: String(err) });
    }
  });
});
io.on("who", (text, ack) => ack?.(`node got ${text}`));
httpServer.listen(Number(httpPort), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
process.on("SIGTERM", async () => { io.close(); process.exit(0); });
