// Drives the ledger (examples/ledger, its own process) with a client that
// @connectrpc/connect's createClient makes from protoc-gen-es's service
// descriptor, on sio's Connect transport: every method kind, ConnectError
// codes, deadlines and aborts that reach the server, interceptors,
// headers and trailers, refusals.
// Usage: node ledger_connect.mjs <ledger url> <refusing ledger url> <closed port url>
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createSioTransport } from "@sio-dev/runtime/connect";
import { LedgerService } from "../../../gen/ts/example/ledger/v1/ledger_pb.js";
import { ChatClientService } from "../../../gen/ts/example/chat/v1/chat_pb.js";

const [url, refusing, closed] = process.argv.slice(2) as [string, string, string];

async function rejects(p: Promise<unknown>, code: Code, within?: number): Promise<ConnectError> {
  const start = Date.now();
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, `not a ConnectError: ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.message);
    if (within !== undefined) assert.ok(Date.now() - start <= within, `${Code[code]} took ${Date.now() - start} ms, more than ${within}`);
    return err;
  }
  assert.fail(`expected ${Code[code]}, the call succeeded`);
}

const seen: string[] = [];
const tagging: Interceptor = (next) => async (req) => {
  req.header.set("x-caller", "connect-test");
  seen.push(`${req.method.name} ${req.stream ? "stream" : "unary"}`);
  try {
    return await next(req);
  } catch (err) {
    seen.push(Code[ConnectError.from(err).code]);
    throw err;
  }
};
const transport = createSioTransport({ baseUrl: url, socketOptions: { transports: ["websocket"] }, interceptors: [tagging] });
const ledger = createClient(LedgerService, transport);

// Unary: a call, its answer; a status as a ConnectError with its code.
assert.equal((await ledger.transfer({ id: "c-1", amount: 5n })).id, "c-1");
const bad = await rejects(ledger.transfer({ id: "c-bad", amount: 0n }), Code.InvalidArgument);
assert.match(bad.rawMessage, /amount must be positive/);
assert.deepEqual(seen, ["Transfer unary", "Transfer unary", "InvalidArgument"]);

// timeoutMs travels to the server: its handler stops, and records why.
await rejects(ledger.transfer({ id: "c-late", amount: 1n, processingMs: 10_000 }, { timeoutMs: 300 }), Code.DeadlineExceeded, 2000);
// An abort stops the handler too.
const stop = new AbortController();
setTimeout(() => stop.abort(), 200);
await rejects(ledger.transfer({ id: "c-aborted", amount: 1n, processingMs: 10_000 }, { signal: stop.signal }), Code.Canceled, 2000);
for (let i = 0; ; i++) {
  const { transfers } = await ledger.listTransfers({});
  const outcomes = new Map(transfers.map((t) => [t.id, t.outcome]));
  if (outcomes.get("c-late") === "deadline_exceeded" && outcomes.get("c-aborted") === "canceled") break;
  assert.ok(i < 50, `the server's outcomes: ${JSON.stringify([...outcomes])}`);
  await new Promise((r) => setTimeout(r, 20));
}

// Client streaming: requests from an async generator, one answer, and the
// trailers the handler set.
async function* imports(n: number) {
  for (let i = 0; i < n; i++) yield { transfer: { id: `c-imp-${i}`, amount: 2n } };
}
let importTrailer: Headers | undefined;
const summary = await ledger.importTransfers(imports(40), { timeoutMs: 10_000, onTrailer: (t) => (importTrailer = t) });
assert.deepEqual([summary.recorded, summary.total], [40, 80n]);
assert.equal(importTrailer?.get("recorded"), "40");

// Bidirectional, interleaved: each request waits for the previous answer.
let next: (() => void) | undefined;
async function* session() {
  for (let i = 0; i < 8; i++) {
    yield { transfer: { id: `c-each-${i}`, amount: 1n } };
    await new Promise<void>((r) => (next = r));
  }
}
const answered: string[] = [];
for await (const res of ledger.transferEach(session(), { timeoutMs: 10_000 })) {
  answered.push(res.record?.id ?? "");
  next?.();
}
assert.deepEqual(answered, Array.from({ length: 8 }, (_, i) => `c-each-${i}`));
// A bad request ends the bidi stream with its status.
await rejects((async () => {
  for await (const _ of ledger.transferEach((async function* () {
    yield { transfer: { id: "c-each-bad", amount: 0n } };
  })())) {
    // no answer is expected
  }
})(), Code.InvalidArgument);

// A per-call server stream longer than a flow-control window, with trailers.
let exportTrailer: Headers | undefined;
let exported = 0;
for await (const rec of ledger.exportTransfers({ repeat: 50 }, { timeoutMs: 20_000, onTrailer: (t) => (exportTrailer = t) })) {
  assert.ok(rec.record !== undefined);
  exported++;
}
const count = Number(exportTrailer?.get("count"));
assert.ok(count > 50 && exported === 50 * count, `exported ${exported}, trailer count ${count}`);

// A room subscription: transfers of the account reach it. (The subscribe
// and the transfers race on the server: transfer until one arrives.)
const watching = new AbortController();
const watch = ledger.watchTransfers({ account: "acme" }, { signal: watching.signal })[Symbol.asyncIterator]();
const first = watch.next();
for (let i = 0; ; i++) {
  await ledger.transfer({ id: `c-watch-${i}`, amount: 1n, fromAccount: "acme" });
  const got = await Promise.race([first, new Promise((r) => setTimeout(() => r(undefined), 100))]);
  if (got !== undefined) {
    assert.match((got as IteratorResult<{ transfer?: { id: string } }>).value?.transfer?.id ?? "", /^c-watch-/);
    break;
  }
  assert.ok(i < 50, "no transfer reached the subscription");
}
watching.abort();
await rejects(watch.next(), Code.Canceled, 2000);

// What the interceptor saw of the streams.
assert.ok(seen.includes("ImportTransfers stream") && seen.includes("TransferEach stream") && seen.includes("WatchTransfers stream"), seen.join(","));

// A client-side service is served by clients, not called on a server.
await rejects(createClient(ChatClientService, transport).confirm({}), Code.Unimplemented);

// A namespace middleware's refusal arrives with its code, at once.
const refused = createSioTransport({ baseUrl: refusing, socketOptions: { transports: ["websocket"], reconnection: false } });
await rejects(createClient(LedgerService, refused).transfer({ id: "c-refused", amount: 1n }), Code.Unauthenticated, 2000);
refused.close();

// No server: unavailable, long before the deadline.
const nowhere = createSioTransport({ baseUrl: closed, socketOptions: { transports: ["websocket"], reconnection: false } });
await rejects(createClient(LedgerService, nowhere).transfer({ id: "c-nowhere", amount: 1n }, { timeoutMs: 10_000 }), Code.Unavailable, 3000);
nowhere.close();

transport.close();
console.log("ok");
process.exit(0);
