// The Node socket.io 4.8 reference server for the load comparisons, with
// the same events as examples/benchserver.
// Usage: node bench_server.mjs <port> [<redis port> [pubsub|sharded|streams]]
// With BENCH_WORKERS=n in the environment, n worker processes share the
// port (node:cluster), so that one run can hold more connections than one
// process may open files (scripts/idle-scale.sh); clients must then use
// WebSocket only, as there are no sticky sessions.
// With a Redis port the server is a cluster node on @socket.io/redis-adapter
// (classic pub/sub, or its sharded adapter) or on
// @socket.io/redis-streams-adapter, as examples/benchserver -redis.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const [port, redisPort, kind = "pubsub"] = process.argv.slice(2);
const workers = Number(process.env.BENCH_WORKERS || 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let up = 0;
  cluster.on("listening", () => { if (++up === workers) console.log(`listening ${port}`); });
  cluster.on("exit", (w, code) => { console.error(`worker ${w.process.pid} exited (${code})`); process.exit(1); });
  await new Promise(() => {});
}
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
