// A Node socket.io 4.8 server on @socket.io/postgres-adapter 0.5, to share
// a cluster with Go nodes. Usage: node postgres_node.mjs <pgPort>
// <httpPort> (port 0 picks a free one). Connects as postgres to the
// database postgres on 127.0.0.1, creates the attachment table as the
// adapter's README does, listens on 127.0.0.1 and prints "listening
// <port>" when ready.
//
// Sockets join the room named in their auth. Events (each answered in its
// ack): "broadcast" (room, text) emits "hello" (text, bytes) to the room
// cluster-wide; "broadcast-big" (room, size) emits "big" (size bytes, a
// text of size characters), both over the NOTIFY limit; "broadcast-ack"
// (room) emits "ping" with acks and answers the sorted responses; "fetch"
// answers every socket's id, rooms and data; "count" answers the server
// count; "sse" asks the other nodes "who" and answers their sorted
// answers. It answers "who" itself with "node got".
//
// Like redis_node.mjs it also serves the chat's WatchRoom subscription by
// the wire mapping (runtime/rpc's PROTOCOL.md) on "/chat", and
// "publish-stream" (key, bytes) publishes one typed room-stream message.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/postgres-adapter";
import pg from "pg";

const [pgPort, httpPort] = process.argv.slice(2);
const pool = new pg.Pool({ host: "127.0.0.1", port: Number(pgPort), user: "postgres", database: "postgres" });
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

const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pool) });
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
process.on("SIGTERM", async () => { io.close(); await pool.end(); process.exit(0); });
