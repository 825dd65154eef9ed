// Encodes and decodes revision 3 polling payloads with the reference
// server's own revision 3 parser, as an oracle for the Go codec.
//
// Input (file named by argv[2]): [{packets: [{type, text} | {type, bin}],
// binary, payload?, payloadBinary?}]; text is a string, bin base64.
// Output: one JSON array: for each case, the payload the reference encodes
// (encoded: {binary, data}, data base64 when binary) and what it decodes
// from the case's payload (decoded: packets, or "error").
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

// The package does not export its revision 3 parser: load it by path.
const require = createRequire(import.meta.url);
const engineDir = dirname(require.resolve("engine.io")); // its build folder
const parser = require(join(engineDir, "parser-v3/index.js"));

const toPacket = (p) => (p.bin !== undefined ? { type: p.type, data: Buffer.from(p.bin, "base64") } : { type: p.type, data: p.text });
const fromPacket = (p) => (Buffer.isBuffer(p.data) ? { type: p.type, bin: p.data.toString("base64") } : { type: p.type, text: p.data ?? "" });

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => {
  let encoded;
  parser.encodePayload(c.packets.map(toPacket), c.binary, (data) => {
    encoded = typeof data === "string" ? { binary: false, data } : { binary: true, data: data.toString("base64") };
  });
  let decoded = [];
  if (c.payload !== undefined) {
    const body = c.payloadBinary ? Buffer.from(c.payload, "base64") : c.payload;
    parser.decodePayload(body, (p) => {
      if (decoded === "error") return false;
      if (p.type === "error") decoded = "error";
      else decoded.push(fromPacket(p));
    });
  }
  return { encoded, decoded };
});
process.stdout.write(JSON.stringify(out));
