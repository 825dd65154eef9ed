// The Node socket.io 4.8 reference server for the load comparisons, with
// the same events as examples/benchserver.
// Usage: node bench_server.mjs <port> [<redis port> [pubsub|sharded|streams]]
// With a Redis port the server is a cluster node on @socket.io/redis-adapter
// (classic pub/sub, or its sharded adapter) or on
// @socket.io/redis-streams-adapter, as examples/benchserver -redis.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const [port, redisPort, kind = "pubsub"] = process.argv.slice(2);
const httpServer = createServer();
const io = new Server(httpServer, { maxHttpBufferSize: 1e8 });
if (redisPort) {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  await pub.connect();
  if (kind === "streams") {
    io.adapter(createStreamsAdapter(pub));
  } else {
    const sub = pub.duplicate();
    await sub.connect();
    io.adapter(kind === "sharded" ? createShardedAdapter(pub, sub) : createAdapter(pub, sub));
  }
}
io.on("connection", (socket) => {
  socket.on("echo", (arg, ack) => { if (typeof ack === "function") ack(arg); });
  socket.on("join", (room, ack) => { socket.join(room); if (typeof ack === "function") ack(); });
  socket.on("fanout", (room, payload, ack) => { io.to(room).emit("msg", payload); if (typeof ack === "function") ack(); });
});
httpServer.listen(Number(port), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
