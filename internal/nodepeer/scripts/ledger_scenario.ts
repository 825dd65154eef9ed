// The ledger scenario: drives the ledger (examples/ledger, run by the Go
// test as its own process) with the generated TypeScript client on the
// official socket.io-client, through failures: the server killed,
// restarted and refusing. It runs the same in Node (ledger_client.ts) and
// in Chromium (ledger_browser.ts), so it uses nothing of either: its
// checks are its own, and the control server, which answers /kill and
// /restart by doing that to the ledger, is reached with fetch.
import { io, type Socket } from "socket.io-client";
import { LedgerServiceClient } from "../../../gen/ts/example/ledger/v1/ledger_sio.js";
import { RpcError } from "@sio-dev/runtime";

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`check failed: ${what}`);
}

function same<T>(got: T, want: T, what: string): void {
  const [g, w] = [JSON.stringify(got), JSON.stringify(want)];
  check(g === w, `${what}: got ${g}, want ${w}`);
}

function until(socket: Socket, event: "connect" | "disconnect"): Promise<void> {
  if ((event === "connect") === socket.connected) return Promise.resolve();
  return new Promise((resolve) => socket.once(event, () => resolve()));
}

async function rejects(p: Promise<unknown>, code: string, within?: number): Promise<RpcError> {
  const start = Date.now();
  try {
    await p;
  } catch (err) {
    check(err instanceof RpcError, `not an RpcError: ${String(err)}`);
    same(err.code, code, err.message);
    if (within !== undefined) check(Date.now() - start <= within, `${code} took ${Date.now() - start} ms, more than ${within}`);
    return err;
  }
  throw new Error(`check failed: expected ${code}, the call succeeded`);
}

async function recorded(client: LedgerServiceClient): Promise<Map<string, string>> {
  const { transfers } = await client.listTransfers({}, { timeoutMs: 5000, waitForReady: true });
  return new Map(transfers.map((t) => [t.id, t.outcome]));
}

/** Runs the scenario; it throws on the first check that fails. */
export async function runLedgerScenario(url: string, control: string, refusing: string): Promise<void> {
  async function ledger(action: "kill" | "restart"): Promise<void> {
    const res = await fetch(`${control}/${action}`);
    same(res.status, 200, `control ${action}`);
  }

  const socket = io(url + "/ledger", {
    transports: ["websocket"],
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
  });
  const client = new LedgerServiceClient(socket);

  // A first call made while the socket is still connecting waits for it.
  same((await client.transfer({ id: "first", amount: 1n })).id, "first", "the first call");

  // Streams of every kind. A client stream: the requests come from an
  // async generator, the response is a promise.
  async function* imports(n: number) {
    for (let i = 0; i < n; i++) yield { transfer: { id: `imp-${i}`, amount: 2n } };
  }
  const summary = await client.importTransfers(imports(50), { timeoutMs: 10_000 });
  same([summary.recorded, String(summary.total)], [50, "100"], "ImportTransfers's summary");

  // A bidirectional stream, interleaved: each request is sent once the
  // answer to the previous one has arrived.
  const answered: string[] = [];
  let next: (() => void) | undefined;
  async function* session() {
    for (let i = 0; i < 10; i++) {
      yield { transfer: { id: `each-${i}`, amount: 1n } };
      await new Promise<void>((r) => (next = r));
    }
  }
  for await (const res of client.transferEach(session(), { timeoutMs: 10_000 })) {
    answered.push(res.record?.id ?? "");
    next?.();
  }
  same(answered, Array.from({ length: 10 }, (_, i) => `each-${i}`), "TransferEach's answers");

  // A per-call server stream far longer than one window: the server waits
  // for the reader, nothing is lost.
  let exported = 0;
  for await (const rec of client.exportTransfers({ repeat: 100 }, { timeoutMs: 20_000 })) {
    check(rec.record !== undefined, "an exported record");
    exported++;
  }
  same(exported, 100 * 61, "records exported");

  // Breaking out of a stream, or aborting it, ends it on both sides.
  let taken = 0;
  for await (const _ of client.exportTransfers({ repeat: 1000 })) {
    if (++taken === 5) break;
  }
  const stop = new AbortController();
  const forever = client.transferEach((async function* () {
    yield { transfer: { id: "aborted-each", amount: 1n } };
    await new Promise(() => undefined); // never ends on its own
  })(), { signal: stop.signal });
  const iter = forever[Symbol.asyncIterator]();
  same((await iter.next()).value?.record?.id, "aborted-each", "the first answer before the abort");
  setTimeout(() => stop.abort(), 50);
  await rejects(iter.next(), "canceled", 2000);

  // A request over the server's limit (the Go test sets 64 KiB) is refused
  // locally, and the connection stays.
  await rejects(client.transfer({ id: "x".repeat(100_000), amount: 1n }), "resource_exhausted", 1000);
  check(socket.connected, "the connection survives a refused request");

  // Aborting a call in flight ends its handler on the server.
  const abort = new AbortController();
  const aborted = client.transfer({ id: "aborted", amount: 1n, processingMs: 10_000 }, { signal: abort.signal });
  setTimeout(() => abort.abort(), 300);
  await rejects(aborted, "canceled", 2000);

  // The client's default deadline travels to the server.
  const hasty = new LedgerServiceClient(socket, { timeoutMs: 300 });
  await rejects(hasty.transfer({ id: "hasty", amount: 1n, processingMs: 10_000 }), "deadline_exceeded", 2000);

  // Interceptors see and change the call, and see its status.
  const seen: string[] = [];
  const intercepted = new LedgerServiceClient(socket, {
    interceptors: [
      (next) => async (req) => {
        seen.push(`${req.event} ${req.idempotency}`);
        req.timeoutMs = 5000;
        try {
          return await next(req);
        } catch (err) {
          seen.push((err as RpcError).code);
          throw err;
        }
      },
    ],
  });
  await rejects(intercepted.transfer({ id: "bad", amount: 0n }), "invalid_argument");
  same(seen, ["example.ledger.v1.LedgerService/Transfer unknown", "invalid_argument"], "what the interceptor saw");

  // A call in flight when the server dies fails at once, its outcome unknown.
  // (The expectation is attached before the kill: the call fails as soon as
  // the connection drops, which may be before the control request returns.)
  const inFlight = rejects(client.transfer({ id: "in-flight", amount: 1n, processingMs: 10_000 }, { timeoutMs: 20_000 }), "unavailable");
  await new Promise((r) => setTimeout(r, 300));
  const killedAt = Date.now();
  await ledger("kill");
  const lost = await inFlight;
  check(/outcome is unknown/.test(lost.message), `message ${lost.message}`);
  check(Date.now() - killedAt < 5000, "the call in flight failed within 5 s of the kill");
  await until(socket, "disconnect");

  // Not connected: a call fails at once, and one that waits for ready and
  // times out while the client reconnects is never delivered later.
  await rejects(client.transfer({ id: "offline", amount: 1n }), "unavailable", 1000);
  await rejects(client.transfer({ id: "gave-up", amount: 1n }, { timeoutMs: 500, waitForReady: true }), "deadline_exceeded", 2000);
  await ledger("restart");
  await until(socket, "connect");
  await new Promise((r) => setTimeout(r, 500)); // anything buffered would have been flushed by now
  const after = await recorded(client);
  check(!after.has("offline"), "a call that failed while offline ran after the reconnect");
  check(!after.has("gave-up"), "a call whose caller gave up ran after the reconnect");

  // A room subscription outlives a restart of the server: it is
  // subscribed again (the server lost the session: onGap tells), and goes
  // on with what is published afterwards.
  let gaps = 0;
  const watched: string[] = [];
  const watching = (async () => {
    for await (const w of client.watchTransfers({ account: "watched" }, { onGap: () => gaps++ })) {
      watched.push(w.transfer?.id ?? "");
      if (w.transfer?.id === "after-restart") return;
    }
  })();
  // (The subscription and the transfers run concurrently on the server:
  // transfer until one has reached it.)
  for (let i = 0; i < 50 && !watched.includes("before-restart"); i++) {
    await client.transfer({ id: "before-restart", amount: 1n, toAccount: "watched" });
    await new Promise((r) => setTimeout(r, 50));
  }

  // Waiting for ready across a restart works within the deadline.
  await ledger("kill");
  await until(socket, "disconnect");
  const waiting = client.transfer({ id: "waited", amount: 1n }, { timeoutMs: 15_000, waitForReady: true });
  await ledger("restart");
  same((await waiting).id, "waited", "the call that waited for ready");
  // The subscription is back once the socket is: transfers reach it again.
  for (let i = 0; i < 50 && !watched.includes("after-restart"); i++) {
    await client.transfer({ id: "after-restart", amount: 1n, toAccount: "watched" });
    await Promise.race([watching, new Promise((r) => setTimeout(r, 100))]);
  }
  await watching;
  same([watched.includes("before-restart"), watched[watched.length - 1], gaps], [true, "after-restart", 1], "the subscription across the restart");
  socket.close();

  // A namespace middleware's refusal arrives with its code, at once.
  const refused = io(refusing + "/ledger", { transports: ["websocket"], reconnection: false });
  const err = await rejects(new LedgerServiceClient(refused).transfer({ id: "no-token", amount: 1n }), "unauthenticated", 3000);
  check(/token/.test(err.message), `message ${err.message}`);
  refused.close();
}
