// The Node socket.io 4.8 reference server for the load comparisons, with
// the same events as examples/benchserver. Usage: node bench_server.mjs <port>
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, { maxHttpBufferSize: 1e8 });
io.on("connection", (socket) => {
  socket.on("echo", (arg, ack) => { if (typeof ack === "function") ack(arg); });
  socket.on("join", (room, ack) => { socket.join(room); if (typeof ack === "function") ack(); });
  socket.on("fanout", (room, payload, ack) => { io.to(room).emit("msg", payload); if (typeof ack === "function") ack(); });
});
httpServer.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
