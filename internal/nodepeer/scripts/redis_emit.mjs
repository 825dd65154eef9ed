// Emits into a cluster through @socket.io/redis-emitter.
// Usage: node redis_emit.mjs <redisPort> <room> <text>
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [redisPort, room, text] = process.argv.slice(2);
const client = createClient({ url: `redis://127.0.0.1:${redisPort}` });
await client.connect();
new Emitter(client).to(room).emit("hello", text, Buffer.from([4, 5, 6]), { nested: Buffer.from([1]) });
await new Promise((r) => setTimeout(r, 100));
await client.quit();
console.log("emitted");
