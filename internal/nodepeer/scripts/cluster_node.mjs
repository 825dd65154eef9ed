// A Node socket.io 4.8 server on one of the official cluster adapters, to
// share a cluster with Go nodes. Usage: node cluster_node.mjs <adapter>
// <brokerPort> <httpPort> [recovery] (port 0 picks a free one), where
// adapter is classic or pubsub (@socket.io/redis-adapter 8's
// createAdapter), sharded (its createShardedAdapter), streams
// (@socket.io/redis-streams-adapter 0.3) or postgres
// (@socket.io/postgres-adapter 0.5: as postgres, on the database postgres,
// creating the attachment table as the adapter's README does); "recovery"
// turns connection state recovery on. Listens on 127.0.0.1 and prints
// "listening <port>" when ready.
//
// Sockets join the room named in their auth. Events (each answered in its
// ack): "broadcast" (room, text) emits "hello" (text, bytes) to the room
// cluster-wide; "broadcast-big" (room, size) emits "big" (size bytes, a
// text of size characters); "broadcast-ack" (room) emits "ping" with acks
// and answers the sorted responses; "fetch" answers every socket's id,
// rooms and data; "count" answers the server count; "sse" asks the other
// nodes "who" and answers their sorted answers. It answers the
// server-side events "who" and "hello-nodes" itself with "node got".
//
// It also serves the chat's WatchRoom subscription the way runtime/rpc's
// PROTOCOL.md maps it, as any Socket.IO server can, on "/chat": the
// request names the room, the socket joins "<event>#<room>" and the ack
// names that key. And "publish-stream" (key, bytes) publishes one message
// of a typed room stream: a broadcast of "sio:stream" to the key's room,
// cluster-wide.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createAdapter as createPostgresAdapter } from "@socket.io/postgres-adapter";
import { createClient } from "redis";
import pg from "pg";

const [kind, brokerPort, httpPort, ...options] = process.argv.slice(2);

async function postgresAdapter() {
  const pool = new pg.Pool({ host: "127.0.0.1", port: Number(brokerPort), user: "postgres", database: "postgres" });
  pool.on("error", () => {});
  // The adapter keeps a client of the pool for LISTEN without an "error"
  // listener of its own: when PostgreSQL dies, that client's error would
  // end the process. Every client of the pool gets one; the adapter then
  // sees the client end and connects again.
  pool.on("connect", (client) => client.on("error", () => {}));
  await pool.query(`
    CREATE TABLE IF NOT EXISTS socket_io_attachments (
        id          bigserial UNIQUE,
        created_at  timestamptz DEFAULT NOW(),
        payload     bytea
    );
  `);
  return { adapter: createPostgresAdapter(pool), close: () => pool.end() };
}

async function redisAdapter() {
  const pubClient = createClient({ url: `redis://127.0.0.1:${brokerPort}` });
  pubClient.on("error", () => {});
  if (kind === "streams") {
    await pubClient.connect();
    return { adapter: createStreamsAdapter(pubClient, { blockTimeInMs: 1000 }), close: () => {} };
  }
  const subClient = pubClient.duplicate();
  subClient.on("error", () => {});
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const adapter = kind === "sharded" ? createShardedAdapter(pubClient, subClient) : createAdapter(pubClient, subClient);
  return { adapter, close: () => {} };
}

const { adapter, close } = kind === "postgres" ? await postgresAdapter() : await redisAdapter();
const httpServer = createServer();
const io = new Server(httpServer, {
  adapter,
  connectionStateRecovery: options.includes("recovery") ? { maxDisconnectionDuration: 60_000 } : undefined,
});
io.use((socket, next) => {
  const room = socket.handshake.auth.room;
  if (room) socket.join(room);
  socket.data = { room: room ?? "" };
  next();
});
const watchRoom = "example.chat.v1.ChatService/WatchRoom";
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
  // The nodes this namespace's adapter knows: with heartbeats, those it has
  // heard, so 2 means it listens to the other node already.
  socket.on("count", async (ack) => ack(await socket.nsp.adapter.serverCount()));
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
for (const event of ["who", "hello-nodes"]) io.on(event, (text, ack) => ack?.(`node got ${text}`));
httpServer.listen(Number(httpPort), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
process.on("SIGTERM", async () => { io.close(); await close(); process.exit(0); });
