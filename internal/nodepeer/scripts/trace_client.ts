// Calls the ledger (a Go server traced with rpcotel) inside a span of the
// real OpenTelemetry JS SDK, with the runtime's traceContext interceptors,
// and prints the span's ids for the Go test to find its server span under.
// Usage: node trace_client.mjs <server url>
import { context, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { io } from "socket.io-client";
import { traceContext } from "@sio-dev/runtime";
import { LedgerServiceClient } from "../../../gen/ts/example/ledger/v1/ledger_sio.js";

propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const tracer = new BasicTracerProvider().getTracer("trace_client");

const [url] = process.argv.slice(2) as [string];
const socket = io(url + "/ledger", { transports: ["websocket"] });
// The caller's current context. (Node's API has no context manager unless
// one is installed, so the span's context is passed on by hand here; with
// @opentelemetry/context-async-hooks or, in a browser, the zone manager,
// context.active() would give it.)
const span = tracer.startSpan("checkout");
const current = trace.setSpan(context.active(), span);
const client = new LedgerServiceClient(socket, traceContext((carrier) => propagation.inject(current, carrier)));
try {
  await client.transfer({ id: "traced", amount: 1n }, { timeoutMs: 5000 });
  const { traceId, spanId } = span.spanContext();
  console.log(`trace ${traceId} span ${spanId}`);
} finally {
  span.end();
  socket.close();
}
