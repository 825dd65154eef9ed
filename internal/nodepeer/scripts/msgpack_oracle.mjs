// Encodes packets with socket.io-msgpack-parser, as the reference for
// sio's MessagePack format (runtime/socketio/sioparser's tests).
// Usage: node msgpack_oracle.mjs <file>, where the file holds a JSON array
// of packets {type, data, nsp, id}. Inside them, {"$bin": "<base64>"} is a
// Buffer, {"$undefined": true} undefined, {"$date": <ms>} a Date,
// {"$uint8": "<base64>"} a Uint8Array and {"$nan": true} NaN. Prints each
// packet's encoding in hex, one line per packet.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const parser = require("socket.io-msgpack-parser");

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v === null || typeof v !== "object") return v;
  if ("$bin" in v) return Buffer.from(v.$bin, "base64");
  if ("$undefined" in v) return undefined;
  if ("$date" in v) return new Date(v.$date);
  if ("$uint8" in v) return new Uint8Array(Buffer.from(v.$uint8, "base64"));
  if ("$nan" in v) return NaN;
  const out = {};
  for (const [k, e] of Object.entries(v)) out[k] = revive(e);
  return out;
}

const encoder = new parser.Encoder();
for (const packet of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  const [buf] = encoder.encode(revive(packet));
  console.log(Buffer.from(buf).toString("hex"));
}
