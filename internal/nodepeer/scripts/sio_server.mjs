// The reference Node socket.io server, for testing Go clients against it.
// Usage: node sio_server.mjs <port> [flags] (port 0 picks a free one;
// flags, separated by commas: "recovery" turns connection state recovery
// on, "msgpack" sets the parser option to socket.io-msgpack-parser)
// Listens on 127.0.0.1 and prints "listening <port>" once ready. Its events mirror the Go test
// server in runtime/socketio/sioclient/interop_test.go.
import { createServer } from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const flags = (process.argv[3] ?? "").split(",");

const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 400,
  maxHttpBufferSize: 1e6,
  ...(flags.includes("recovery") ? { connectionStateRecovery: {} } : {}),
  ...(flags.includes("msgpack") ? { parser: msgpackParser } : {}),
});

io.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "bad") {
    const err = new Error("not authorized");
    err.data = { reason: "bad token" };
    return next(err);
  }
  next();
});

io.on("connection", (socket) => {
  socket.on("whoami", (ack) => ack(socket.handshake.auth.token ?? null));
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args); else socket.emit("echo", ...args);
  });
  socket.on("ask-client", (ack) => {
    socket.timeout(5000).emit("question", 1, "two", Buffer.from([3]), (err, ...answer) => ack(err ? null : answer));
  });
  socket.on("join", (room, ack) => { socket.join(room); ack(); });
  socket.on("to-room", (room, msg, ack) => { socket.to(room).emit("room-msg", msg); ack(); });
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("drop-me", () => socket.conn.close());
  socket.on("broadcast-later", (room, n, delayMs) => {
    setTimeout(() => { for (let i = 0; i < n; i++) io.to(room).emit("room-msg", i); }, delayMs);
  });
});

io.of("/admin").on("connection", (socket) => socket.emit("welcome", socket.nsp.name));

httpServer.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
process.on("SIGTERM", () => { io.close(); process.exit(0); });
