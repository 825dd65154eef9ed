// The runtime of the TypeScript code protoc-gen-sio generates: calls with
// deadlines and cancellation, room-backed and per-call streams with flow
// control, typed errors. Generated *_sio.ts files import it; one copy per
// program, so RpcError is one class for every service.

import type { Socket } from "socket.io-client";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";

/** A status code, from the gRPC and Connect code set. */
export type Code =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

const codes: readonly string[] = [
  "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
  "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
  "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];

/** A protobuf message attached to an error: its type name and bytes. */
export interface ErrorDetail {
  readonly type: string;
  readonly value: Uint8Array;
}

/** The error of a failed call: a code, a message and optional details. */
export class RpcError extends Error {
  readonly code: Code;
  readonly rawMessage: string;
  readonly details: readonly ErrorDetail[];

  constructor(code: Code, message: string, details: readonly ErrorDetail[] = []) {
    super(message === "" ? `[${code}]` : `[${code}] ${message}`);
    this.name = "RpcError";
    this.code = code;
    this.rawMessage = message;
    this.details = details;
  }
}

/** Options of one call. */
export interface CallOptions {
  /** Time allowed for the answer; it travels to the server, whose handler stops then too. */
  timeoutMs?: number;
  /** Aborting rejects the call with "canceled" (and ends a stream). */
  signal?: AbortSignal;
  /** Per-call metadata for the server's handler and interceptors. */
  headers?: Record<string, string>;
  /** Wait for the connection, within the deadline, instead of failing with "unavailable" at once. */
  waitForReady?: boolean;
  /**
   * For a room subscription: called when it was subscribed again after a
   * reconnection that did not resume the session, so that messages sent
   * while the connection was down are lost. The iteration goes on.
   */
  onGap?: () => void;
  /** For a per-call stream: called with the server's trailers when it ends the stream, before the end is read. */
  onTrailers?: (trailers: Readonly<Record<string, string>>) => void;
}

/** What a handler of a client-side service knows about the call. */
export interface HandlerContext {
  readonly event: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Aborted when the caller's deadline passes. */
  readonly signal: AbortSignal;
}

interface WireStatus {
  code: string;
  message?: string;
  details?: { type: string; value: string }[];
}

interface CallMeta {
  id?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
  window?: number;
}

/** How roundTrip opens a per-call stream instead of making a unary call. */
interface StreamOpen {
  /** Called with the call's id just before it is sent. */
  onSent: (id: string) => void;
  /** The stream's own deadline, sent to the server; none if undefined. */
  streamTimeoutMs: number | undefined;
}

const streamMessageEvent = "sio:stream";
const streamEndEvent = "sio:stream:end";
const streamCancelEvent = "sio:stream:cancel";
const cancelEvent = "sio:cancel";
const maxBacklog = 1024;
const callMessageEvent = "sio:call:msg";
const callCloseEvent = "sio:call:close";
const callCreditEvent = "sio:call:credit";
const callEndEvent = "sio:call:end";
const callResumeEvent = "sio:call:resume";
/** How long a stream whose connection is lost waits for the reconnection: recovery's default MaxDisconnectionDuration. */
const streamResumeWaitMs = 120_000;

/**
 * Whether a reconnection of socket may recover its session: the server gave it a private
 * session id and it has an offset to resume from (socket.io-client keeps both, as _pid and
 * _lastOffset, since 4.6).
 */
function recoverable(socket: Socket): boolean {
  const s = socket as unknown as { _pid?: unknown; _lastOffset?: unknown };
  return typeof s._pid === "string" && s._pid !== "" && typeof s._lastOffset === "string" && s._lastOffset !== "";
}

/** One stream's side of a resumption (PROTOCOL.md, "Resuming per-call streams"). */
interface ResumeState {
  id: string;
  received: number;
  granted: number;
  status?: unknown;
}
/** The receive window of a per-call stream, in bytes (PROTOCOL.md, flow control). */
const streamWindow = 256 * 1024;
/** What a message costs beyond its bytes. */
const messageOverhead = 32;

function toBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

/**
 * The bytes as socket.io-client should be given them: an ArrayBuffer holding
 * exactly them. Every parser carries an ArrayBuffer as binary, where the
 * MessagePack parser's browser build turns a Uint8Array into an object of its
 * indices and its Node build sends a view's whole underlying buffer.
 */
function wire(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  return b.slice().buffer as ArrayBuffer;
}

function isStatus(v: unknown): v is WireStatus {
  return typeof v === "object" && v !== null && typeof (v as { code?: unknown }).code === "string";
}

function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function errorFromStatus(s: WireStatus): RpcError {
  const code = codes.includes(s.code) ? (s.code as Code) : "unknown";
  const details = (s.details ?? []).map((d) => ({ type: d.type, value: fromBase64(d.value) }));
  return new RpcError(code, s.message ?? "", details);
}

function statusOf(err: unknown): WireStatus {
  if (err instanceof RpcError) {
    return {
      code: err.code,
      message: err.rawMessage,
      details: err.details.map((d) => ({ type: d.type, value: toBase64(d.value) })),
    };
  }
  return { code: "unknown", message: err instanceof Error ? err.message : String(err) };
}

/** What a method promises about repeating it, from its protobuf idempotency_level. */
export type Idempotency = "unknown" | "no_side_effects" | "idempotent";

/** A call as interceptors see it; they may change headers and timeoutMs. */
export interface CallRequest {
  readonly event: string;
  readonly idempotency: Idempotency;
  /** The request message. */
  readonly message: unknown;
  headers: Record<string, string>;
  /** Time left for the call, in milliseconds. */
  timeoutMs: number;
}

/** A unary call's answer as interceptors see it. */
export interface CallResponse {
  message: unknown;
}

/** Sends a unary call; an interceptor calls next to go on. */
export type UnaryFn = (request: CallRequest) => Promise<CallResponse>;
/** Wraps unary calls: see or change the request, the response or the error (its status). */
export type UnaryInterceptor = (next: UnaryFn) => UnaryFn;
/** Opens a server stream; its messages arrive through the returned iterable. */
export type StreamFn = (request: CallRequest) => AsyncIterable<unknown>;
/** Wraps server-stream subscriptions, like UnaryInterceptor. */
export type StreamInterceptor = (next: StreamFn) => StreamFn;

/** Options of a generated client. */
export interface ClientOptions {
  /** The deadline of calls without their own timeoutMs; 30 s when unset. */
  timeoutMs?: number;
  /** Unary interceptors, the first one outermost. */
  interceptors?: UnaryInterceptor[];
  /** Stream interceptors, the first one outermost. */
  streamInterceptors?: StreamInterceptor[];
}

/**
 * Interceptors that put the caller's trace context into the headers of
 * every call and stream (W3C traceparent and tracestate, baggage), so that
 * a Go handler traced with rpcotel continues the caller's trace. inject
 * writes the current context's headers into carrier; with OpenTelemetry:
 *
 *   new ChatServiceClient(socket, traceContext((carrier) => propagation.inject(context.active(), carrier)))
 */
export function traceContext(inject: (carrier: Record<string, string>) => void): Required<Pick<ClientOptions, "interceptors" | "streamInterceptors">> {
  return {
    interceptors: [
      (next) => (req) => {
        inject(req.headers);
        return next(req);
      },
    ],
    streamInterceptors: [
      (next) => (req) => {
        inject(req.headers);
        return next(req);
      },
    ],
  };
}

/** The deadline of a call when neither it nor its client sets one. */
export const defaultTimeoutMs = 30_000;

/** An error from a connect_error, with the server's message and data. */
export class ConnectionRefusedError extends RpcError {
  readonly data: unknown;

  constructor(code: Code, message: string, data: unknown) {
    super(code, message);
    this.data = data;
  }
}

/** Maps a connect_error to a status, as the wire protocol says. */
export function refusalError(err: unknown): RpcError {
  const e = err as { message?: unknown; data?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(err);
  const data = e?.data;
  const named = (data as { code?: unknown } | null | undefined)?.code;
  let code: Code = "unavailable";
  if (typeof named === "string" && codes.includes(named)) code = named as Code;
  else if (message === "Invalid namespace") code = "not_found";
  return new ConnectionRefusedError(code, message, data);
}

// The parts of socket.io-client's and engine.io-client's objects that a
// call needs beyond their typed API: the offline buffer and ack table (to
// take back a call buffered anyway) and the handshake's maxPayload.
interface SocketInternals {
  sendBuffer?: { id?: number }[];
  acks?: Record<string, unknown>;
  io?: { engine?: { _maxPayload?: number; transport?: { name?: string } } };
}

/** What a socket's calls share: call ids and the last refusal. */
class Connection {
  private nextId = 0;
  /** Set by a connect_error, cleared by a connect. */
  refusal: RpcError | undefined;
  /** Whether the socket has connected or been refused since this was made. */
  settled: boolean;
  private readonly waiters = new Set<(err: RpcError | undefined) => void>();

  constructor(readonly socket: Socket) {
    this.settled = socket.connected;
    socket.on("connect", () => {
      this.settled = true;
      this.refusal = undefined;
      this.wake(undefined);
    });
    socket.on("connect_error", (err: unknown) => {
      this.settled = true;
      this.refusal = refusalError(err);
      this.wake(this.refusal);
    });
  }

  id(): string {
    this.nextId++;
    return String(this.nextId);
  }

  private wake(err: RpcError | undefined): void {
    for (const w of [...this.waiters]) w(err);
  }

  /** Calls fn on the next connect (undefined) or connect_error; returns a remover. */
  onChange(fn: (err: RpcError | undefined) => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  /** The server's largest message, or undefined before a handshake. */
  maxPayload(): number | undefined {
    const n = (this.socket as unknown as SocketInternals).io?.engine?._maxPayload;
    return typeof n === "number" && n > 0 ? n : undefined;
  }

  /** Whether a request of n bytes with header text h fits the server's limit. */
  fits(bytes: number, header: number): boolean {
    const max = this.maxPayload();
    if (max === undefined) return true;
    const polling = (this.socket as unknown as SocketInternals).io?.engine?.transport?.name === "polling";
    const size = polling ? Math.ceil(bytes / 3) * 4 + 2 + header : Math.max(bytes + 1, header);
    return size <= max;
  }
}

/** Returns socket's entry in map, making it with make on first use. */
function perSocket<T>(map: WeakMap<Socket, T>, socket: Socket, make: (socket: Socket) => T): T {
  let v = map.get(socket);
  if (v === undefined) {
    v = make(socket);
    map.set(socket, v);
  }
  return v;
}

const connections = new WeakMap<Socket, Connection>();

function connectionOf(socket: Socket): Connection {
  return perSocket(connections, socket, (s) => new Connection(s));
}

/** Settles a call at most once, tearing down its timer and listeners. */
class Attempt {
  private settled = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: RpcError) => void,
  ) {}

  defer(fn: () => void): void {
    this.cleanups.push(fn);
  }

  get done(): boolean {
    return this.settled;
  }

  ok(v: unknown): void {
    this.end(() => this.resolve(v));
  }

  fail(e: RpcError): void {
    this.end(() => this.reject(e));
  }

  private end(fn: () => void): void {
    if (this.settled) return;
    this.settled = true;
    for (const c of this.cleanups.splice(0)) c();
    fn();
  }
}

/**
 * Sends event on the socket and resolves with the first ack argument. It
 * sends only on a live connection (waiting for one if asked), never leaves
 * the call in socket.io-client's offline buffer, fails "unavailable" when
 * the connection drops (or sends again, for a method safe to repeat), and
 * tells the server with sio:cancel when the caller gives up.
 */
function roundTrip(
  socket: Socket,
  event: string,
  payload: Uint8Array | null,
  req: CallRequest,
  options: CallOptions | undefined,
  open?: StreamOpen,
): Promise<unknown> {
  const conn = connectionOf(socket);
  const deadline = Date.now() + req.timeoutMs;
  const signal = options?.signal;
  const retry = req.idempotency !== "unknown";
  return new Promise((resolve, reject) => {
    const a = new Attempt(resolve, reject as (e: RpcError) => void);
    let sentId: string | undefined; // the id of the call on the wire, if any
    const giveUp = (e: RpcError): void => {
      if (a.done) return;
      const id = sentId;
      a.fail(e);
      if (id !== undefined && socket.connected) socket.emit(cancelEvent, id, e.code === "deadline_exceeded" ? "deadline_exceeded" : "canceled");
    };
    if (signal?.aborted) {
      a.fail(new RpcError("canceled", "call aborted"));
      return;
    }
    const onAbort = (): void => giveUp(new RpcError("canceled", "call aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    a.defer(() => signal?.removeEventListener("abort", onAbort));
    const timer = setTimeout(() => giveUp(new RpcError("deadline_exceeded", `no answer within ${req.timeoutMs} ms`)), Math.max(0, req.timeoutMs));
    a.defer(() => clearTimeout(timer));
    if (req.timeoutMs <= 0) return;

    let waitForReady = options?.waitForReady === true;
    const onDisconnect = (): void => {
      if (sentId === undefined || a.done) return;
      sentId = undefined;
      if (retry) {
        waitForReady = true;
        send();
        return;
      }
      a.fail(new RpcError("unavailable", "the connection was lost while the call was in flight: its outcome is unknown"));
    };
    socket.on("disconnect", onDisconnect);
    a.defer(() => socket.off("disconnect", onDisconnect));

    const send = (): void => {
      if (a.done) return;
      if (!socket.connected) {
        if (conn.refusal !== undefined && !(waitForReady && conn.refusal.code === "unavailable")) {
          a.fail(conn.refusal);
          return;
        }
        // A socket still making its first connection is waited for, as a
        // gRPC channel that is connecting: fail-fast is for one that failed.
        if (!waitForReady && !(socket.active && !conn.settled)) {
          a.fail(new RpcError("unavailable", "not connected"));
          return;
        }
        const off = conn.onChange((err) => {
          if (err === undefined) {
            off();
            send();
          } else if (err.code !== "unavailable" || !waitForReady) {
            off();
            a.fail(err);
          }
        });
        a.defer(off);
        return;
      }
      const id = conn.id();
      const meta: CallMeta = { id, timeoutMs: Math.max(0, deadline - Date.now()) };
      if (open !== undefined) {
        meta.window = streamWindow;
        if (open.streamTimeoutMs === undefined) delete meta.timeoutMs;
        else meta.timeoutMs = open.streamTimeoutMs;
        open.onSent(id);
      }
      if (Object.keys(req.headers).length > 0) meta.headers = req.headers;
      const header = event.length + JSON.stringify(meta).length + 64;
      const size = payload?.length ?? 0;
      if (!conn.fits(size, header)) {
        a.fail(new RpcError("resource_exhausted", `request of ${size} bytes exceeds the server's limit of ${conn.maxPayload()} bytes`));
        return;
      }
      const internals = socket as unknown as SocketInternals;
      const buffered = internals.sendBuffer?.length ?? 0;
      socket.emit(event, payload === null ? null : wire(payload), meta, (reply: unknown) => {
        if (sentId === id) a.ok(reply);
      });
      const buffer = internals.sendBuffer;
      if (buffer !== undefined && buffer.length > buffered) {
        // socket.io-client buffered it (a ping overdue): take it back.
        const packet = buffer.splice(buffered, 1)[0];
        if (packet?.id !== undefined && internals.acks !== undefined) delete internals.acks[String(packet.id)];
        if (retry || waitForReady) {
          waitForReady = true;
          const off = conn.onChange((err) => {
            if (err === undefined) {
              off();
              send();
            }
          });
          a.defer(off);
          return;
        }
        a.fail(new RpcError("unavailable", "not connected"));
        return;
      }
      sentId = id;
    };
    send();
  });
}

/** The request as interceptors see it, with the deadline resolved. */
function callRequest(
  event: string,
  idempotency: Idempotency,
  message: unknown,
  client: ClientOptions | undefined,
  options: CallOptions | undefined,
): CallRequest {
  return {
    event,
    idempotency,
    message,
    headers: { ...(options?.headers ?? {}) },
    timeoutMs: options?.timeoutMs ?? client?.timeoutMs ?? defaultTimeoutMs,
  };
}

/** Calls a unary method: the request goes as a binary attachment, the answer comes in the ack. */
export async function callUnary<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  request: MessageInitShape<I>,
  options?: CallOptions,
  client?: ClientOptions,
  idempotency: Idempotency = "unknown",
): Promise<MessageShape<O>> {
  let fn: UnaryFn = async (req) => {
    const msg = req.message as MessageShape<I>;
    const reply = await roundTrip(socket, req.event, toBinary(input, msg), req, options);
    const bytes = toBytes(reply);
    if (bytes !== undefined) return { message: fromBinary(output, bytes) };
    if (isStatus(reply)) throw errorFromStatus(reply);
    throw new RpcError("internal", "malformed reply");
  };
  const chain = client?.interceptors ?? [];
  for (let i = chain.length - 1; i >= 0; i--) fn = chain[i]!(fn);
  const res = await fn(callRequest(event, idempotency, create(input, request), client, options));
  return res.message as MessageShape<O>;
}

/** Subscribes to a server-streaming method; iterate the result, break (or abort) to leave. */
export function subscribe<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  request: MessageInitShape<I>,
  options?: CallOptions,
  client?: ClientOptions,
  idempotency: Idempotency = "unknown",
): AsyncIterable<MessageShape<O>> {
  let fn: StreamFn = (req) => ({
    [Symbol.asyncIterator]: () =>
      new Subscription(socket, req, toBinary(input, req.message as MessageShape<I>), output, options),
  });
  const chain = client?.streamInterceptors ?? [];
  for (let i = chain.length - 1; i >= 0; i--) fn = chain[i]!(fn);
  return {
    [Symbol.asyncIterator]: () =>
      fn(callRequest(event, idempotency, create(input, request), client, options))[Symbol.asyncIterator]() as AsyncIterator<MessageShape<O>>,
  };
}

// Streams of one socket that share a key (the same room twice); the
// socket leaves the room when the last of them ends.
const keyCounts = new WeakMap<Socket, Map<string, number>>();

function countKey(socket: Socket, key: string, delta: number): number {
  const counts = perSocket(keyCounts, socket, () => new Map<string, number>());
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
  return n;
}

class Subscription<O extends DescMessage> implements AsyncIterator<MessageShape<O>> {
  private key: string | undefined;
  private early: [string, Uint8Array][] = [];
  private queue: Uint8Array[] = [];
  private ended = false;
  private failure: RpcError | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly req: CallRequest,
    private readonly payload: Uint8Array,
    private readonly output: O,
    private readonly options: CallOptions | undefined,
  ) {
    socket.on(streamMessageEvent, this.onMessage);
    socket.on(streamEndEvent, this.onEnd);
    socket.on("disconnect", this.onDisconnect);
    socket.on("connect", this.onReconnect);
    options?.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.subscribe(false);
  }

  /** Sends the subscription (again, after a reconnection that lost the session). */
  private subscribe(again: boolean): void {
    const req = again ? { ...this.req, timeoutMs: defaultTimeoutMs } : this.req;
    roundTrip(this.socket, req.event, this.payload, req, again ? { ...this.options, waitForReady: true } : this.options).then(
      (reply) => {
        const stream = (reply as { stream?: unknown } | null)?.stream;
        if (typeof stream === "string") {
          if (this.ended) {
            // Ended while subscribing: leave the room, unless another
            // subscription of this socket holds it.
            if (countKey(this.socket, stream, 0) === 0 && this.socket.connected) this.socket.emit(streamCancelEvent, stream);
            return;
          }
          if (stream !== this.key) {
            this.release();
            this.key = stream;
            countKey(this.socket, stream, 1);
          }
          for (const [k, b] of this.early) if (k === stream) this.push(b);
          this.early = [];
        } else if (this.ended) {
          return;
        } else if (isStatus(reply)) {
          this.fail(errorFromStatus(reply));
        } else {
          this.fail(new RpcError("internal", "malformed subscription reply"));
        }
      },
      (err: unknown) => this.fail(err instanceof RpcError ? err : new RpcError("unknown", String(err))),
    );
  }

  private readonly onMessage = (key: unknown, data: unknown): void => {
    const bytes = toBytes(data);
    if (typeof key !== "string" || bytes === undefined) return;
    if (this.key === undefined) {
      if (this.early.length < maxBacklog) this.early.push([key, bytes]);
    } else if (key === this.key) {
      this.push(bytes);
    }
  };

  private readonly onEnd = (key: unknown, status: unknown): void => {
    if (key !== this.key || this.key === undefined) return;
    countKey(this.socket, this.key, -1);
    this.key = undefined;
    if (isStatus(status)) this.fail(errorFromStatus(status));
    else this.finish();
  };

  private readonly onDisconnect = (reason: unknown): void => {
    // A subscription waits for the reconnection, unless there will be none.
    if (reason === "io server disconnect" || reason === "io client disconnect" || !this.socket.io.reconnection()) {
      this.fail(new RpcError("unavailable", `disconnected: ${String(reason)}`));
    }
  };

  private readonly onReconnect = (): void => {
    if (this.ended || this.socket.recovered) return; // recovered: the server kept the room and sends what was missed
    this.options?.onGap?.();
    this.subscribe(true);
  };

  private readonly onAbort = (): void => {
    this.fail(new RpcError("canceled", "stream aborted"));
  };

  private push(bytes: Uint8Array): void {
    if (this.ended) return;
    if (this.queue.length >= maxBacklog) {
      this.fail(new RpcError("resource_exhausted", `stream reader fell ${maxBacklog} messages behind`));
      return;
    }
    this.queue.push(bytes);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancel();
    this.notify();
  }

  private fail(err: RpcError): void {
    if (this.ended) return;
    this.failure = err;
    this.finish();
  }

  /** Leaves the room (once) and detaches the listeners. */
  private cancel(): void {
    this.socket.off(streamMessageEvent, this.onMessage);
    this.socket.off(streamEndEvent, this.onEnd);
    this.socket.off("disconnect", this.onDisconnect);
    this.socket.off("connect", this.onReconnect);
    this.options?.signal?.removeEventListener("abort", this.onAbort);
    this.release();
  }

  /** Gives back this subscription's hold on its room, leaving it if it was the last. */
  private release(): void {
    const key = this.key;
    this.key = undefined;
    if (key !== undefined && countKey(this.socket, key, -1) === 0 && this.socket.connected) {
      this.socket.emit(streamCancelEvent, key);
    }
  }

  async next(): Promise<IteratorResult<MessageShape<O>>> {
    for (;;) {
      const bytes = this.queue.shift();
      if (bytes !== undefined) return { done: false, value: fromBinary(this.output, bytes) };
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<MessageShape<O>>> {
    this.queue = [];
    this.finish();
    return { done: true, value: undefined };
  }
}

// Per-call streams (PROTOCOL.md, version 2).

/**
 * The per-call streams of one socket, by id. When the connection is lost and the session can
 * be recovered, they wait: after a reconnection that recovered it they are claimed from the
 * server, and each side writes again what the other lacks.
 */
class CallRouter {
  readonly open = new Map<string, CallStream>();
  private losses = 0;

  constructor(private readonly socket: Socket) {
    socket.on(callMessageEvent, (id: unknown, data: unknown) => {
      const bytes = toBytes(data);
      if (typeof id === "string" && bytes !== undefined) this.open.get(id)?.onMessage(bytes);
    });
    socket.on(callCreditEvent, (id: unknown, n: unknown) => {
      if (typeof id === "string" && typeof n === "number") this.open.get(id)?.onCredit(n);
    });
    socket.on(callEndEvent, (id: unknown, status: unknown, trailers: unknown, ack?: unknown) => {
      if (typeof ack === "function") ack(); // the server may forget the stream now
      if (typeof id === "string") this.open.get(id)?.onEnd(status, trailers);
    });
    socket.on("disconnect", (reason: unknown) => {
      const open = [...this.open.values()];
      if (!socket.active || !recoverable(socket)) {
        this.failAll(open, `the connection was lost while the stream was open: ${String(reason)}`);
        return;
      }
      for (const st of open) st.pause();
      const loss = ++this.losses;
      // A server that stays out of reach has dropped them by then.
      setTimeout(() => {
        if (loss === this.losses && !socket.connected) this.failAll(open, `the connection was lost (${String(reason)}) and not back in time`);
      }, streamResumeWaitMs).unref?.();
    });
    socket.on("connect", () => {
      const open = [...this.open.values()].filter((st) => st.paused);
      if (open.length === 0) return;
      if (!socket.recovered) {
        this.failAll(open, "the connection was lost and the server did not recover the session");
        return;
      }
      this.resume(open);
    });
  }

  private failAll(streams: CallStream[], why: string): void {
    for (const st of streams) st.fail(new RpcError("unavailable", why), false);
  }

  /** Claims the streams from the server that recovered the session. */
  private resume(open: CallStream[]): void {
    const claims = open.map((st) => st.claim());
    this.socket.timeout(defaultTimeoutMs).emit(callResumeEvent, claims, (err: unknown, answers: unknown) => {
      if (err !== null && err !== undefined) {
        if (!this.socket.connected) return; // lost again: the next connection claims them
        this.failAll(open, `resuming the streams after a reconnection: ${String(err)}`);
        return;
      }
      const byID = new Map<string, ResumeState>();
      if (Array.isArray(answers)) for (const a of answers as ResumeState[]) if (a !== null && typeof a === "object") byID.set(a.id, a);
      for (const st of open) {
        const a = st.id === undefined ? undefined : byID.get(st.id);
        if (a === undefined) st.fail(new RpcError("unavailable", "the server did not resume the stream"), false);
        else if (isStatus(a.status)) st.fail(errorFromStatus(a.status), false);
        else st.resume(a.received, a.granted);
      }
    });
  }
}

const routers = new WeakMap<Socket, CallRouter>();

function routerOf(socket: Socket): CallRouter {
  return perSocket(routers, socket, (s) => new CallRouter(s));
}

const cost = (b: Uint8Array): number => b.length + messageOverhead;

/** The client's side of one per-call stream: its queue, its credit, its end. */
class CallStream {
  id: string | undefined;
  trailers: Record<string, string> = {};
  /** The connection is gone: sends are logged, not written, until the stream resumes. */
  paused = false;
  private queue: Uint8Array[] = [];
  private peerCredit = streamWindow; // what the server may still send
  private consumed = 0;
  private sendCredit = 0;
  // For resumption: messages received, credit given back in all (of which announced was sent
  // or claimed); messages sent, their cost, the credit the server gave back, and what it may
  // not have read yet.
  private received = 0;
  private granted = 0;
  private announced = 0;
  private seq = 0;
  private spent = 0;
  private peerGranted = 0;
  private log: { seq: number; spent: number; bytes?: Uint8Array }[] = [];
  private ended = false;
  private failure: RpcError | undefined;
  private wake: (() => void) | undefined;
  private creditWake: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly router: CallRouter;

  constructor(
    private readonly socket: Socket,
    private readonly event: string,
    private readonly options: CallOptions | undefined,
  ) {
    this.router = routerOf(socket);
    options?.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Opens the stream; it resolves once the server has accepted it. */
  async open(req: CallRequest, payload: Uint8Array | null): Promise<void> {
    const streamTimeoutMs = this.options?.timeoutMs;
    const openReq = { ...req, timeoutMs: Math.min(streamTimeoutMs ?? defaultTimeoutMs, defaultTimeoutMs) };
    const reply = await roundTrip(this.socket, req.event, payload, openReq, this.options, {
      streamTimeoutMs,
      onSent: (id) => {
        this.id = id;
        this.router.open.set(id, this);
      },
    }).catch((err: unknown) => {
      this.detach();
      throw err;
    });
    const window = (reply as { window?: unknown } | null)?.window;
    if (typeof window !== "number" || window <= 0) {
      this.detach();
      if (isStatus(reply)) throw errorFromStatus(reply);
      throw new RpcError("internal", `the server answered the opening of ${this.event} with something else`);
    }
    this.addCredit(window);
    if (this.options?.signal?.aborted) this.onAbort();
    if (streamTimeoutMs !== undefined && !this.ended) {
      this.timer = setTimeout(() => this.fail(new RpcError("deadline_exceeded", `${this.event} ran past its ${streamTimeoutMs} ms deadline`), true, "deadline_exceeded"), streamTimeoutMs);
    }
    if (this.failure !== undefined && !this.queue.length) throw this.failure;
  }

  private readonly onAbort = (): void => this.fail(new RpcError("canceled", `${this.event} aborted`), true);

  onMessage(bytes: Uint8Array): void {
    if (this.ended) return;
    if (this.peerCredit <= 0) {
      this.fail(new RpcError("resource_exhausted", "the server sent beyond the stream's flow-control window"), true);
      return;
    }
    this.peerCredit -= cost(bytes);
    this.received++;
    this.queue.push(bytes);
    this.notify();
  }

  /** Credit the server gave back: the messages it has read leave the log. */
  onCredit(n: number): void {
    if (n <= 0) return;
    this.peerGranted += n;
    let i = 0;
    while (i < this.log.length && this.log[i]!.bytes !== undefined && this.log[i]!.spent <= this.peerGranted) i++;
    if (i > 0) this.log.splice(0, i);
    this.addCredit(n);
  }

  private addCredit(n: number): void {
    this.sendCredit += n;
    const w = this.creditWake;
    this.creditWake = undefined;
    w?.();
  }

  /** The connection is gone: stop writing and announcing credit. */
  pause(): void {
    this.paused = true;
  }

  /** What a resumption reports of this side: it announces the credit given back so far. */
  claim(): ResumeState {
    this.announced = this.granted;
    return { id: this.id ?? "", received: this.received, granted: this.granted };
  }

  /** Writes again what the server did not get, and goes on. */
  resume(received: number, granted: number): void {
    if (this.ended) return;
    if (granted > this.peerGranted) this.onCredit(granted - this.peerGranted);
    if (received < this.seq && (this.log.length === 0 || this.log[0]!.seq > received + 1)) {
      this.fail(new RpcError("data_loss", "the server claims fewer messages than it acknowledged"), true);
      return;
    }
    this.paused = false;
    for (const f of this.log) {
      if (f.seq <= received) continue;
      if (f.bytes !== undefined) this.socket.emit(callMessageEvent, this.id, wire(f.bytes));
      else this.socket.emit(callCloseEvent, this.id);
    }
    if (this.granted > this.announced) {
      this.socket.emit(callCreditEvent, this.id, this.granted - this.announced);
      this.announced = this.granted;
    }
  }

  onEnd(status: unknown, trailers: unknown): void {
    if (trailers !== null && typeof trailers === "object") this.trailers = trailers as Record<string, string>;
    this.options?.onTrailers?.(this.trailers);
    if (isStatus(status)) this.fail(errorFromStatus(status), false);
    else this.finish();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
    const c = this.creditWake;
    this.creditWake = undefined;
    c?.();
  }

  private detach(): void {
    if (this.id !== undefined && this.router.open.get(this.id) === this) this.router.open.delete(this.id);
    this.options?.signal?.removeEventListener("abort", this.onAbort);
    clearTimeout(this.timer);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.notify();
  }

  /** Ends the stream with err; tells the server when the client gave up. */
  fail(err: RpcError, tellServer: boolean, reason = "canceled"): void {
    if (this.ended) return;
    this.failure = err;
    const id = this.id;
    this.finish();
    if (tellServer && id !== undefined && this.socket.connected) this.socket.emit(cancelEvent, id, reason);
  }

  /** The next response's bytes; undefined after a clean end. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const bytes = this.queue.shift();
      if (bytes !== undefined) {
        this.consumed += cost(bytes);
        if (this.consumed >= streamWindow / 2 && !this.ended) {
          this.peerCredit += this.consumed;
          this.granted += this.consumed;
          this.consumed = 0;
          if (!this.paused && this.socket.connected) {
            this.socket.emit(callCreditEvent, this.id, this.granted - this.announced);
            this.announced = this.granted;
          }
        }
        return bytes;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Sends a request, waiting while the server's window is full. */
  async send(bytes: Uint8Array): Promise<void> {
    for (;;) {
      if (this.ended) throw this.failure ?? new RpcError("failed_precondition", `${this.event} has ended`);
      if (this.sendCredit > 0) break;
      await new Promise<void>((resolve) => {
        this.creditWake = resolve;
      });
    }
    const c = cost(bytes);
    this.sendCredit -= c;
    this.spent += c;
    this.log.push({ seq: ++this.seq, spent: this.spent, bytes });
    // Not connected: kept in the log, written when the stream resumes (or lost with it).
    if (!this.paused && this.socket.connected) this.socket.emit(callMessageEvent, this.id, wire(bytes));
  }

  closeSend(): void {
    if (this.ended) return;
    this.log.push({ seq: ++this.seq, spent: this.spent });
    if (!this.paused && this.socket.connected) this.socket.emit(callCloseEvent, this.id);
  }

  /** The caller stops: the server is told, unless the stream is over. */
  close(): void {
    this.queue = [];
    this.fail(new RpcError("canceled", `${this.event} was closed by the client`), true);
  }
}

/** Iterates the responses of an open (or opening) stream. */
function responses<O extends DescMessage>(st: CallStream, output: O, opened: Promise<void>, onStop: () => void): AsyncIterator<MessageShape<O>> {
  return {
    async next(): Promise<IteratorResult<MessageShape<O>>> {
      await opened;
      const bytes = await st.next();
      if (bytes === undefined) return { done: true, value: undefined };
      return { done: false, value: fromBinary(output, bytes) };
    },
    async return(): Promise<IteratorResult<MessageShape<O>>> {
      onStop();
      st.close();
      return { done: true, value: undefined };
    },
  };
}

/** Sends every request of requests on st, then half-closes; a failure of requests cancels the call. */
async function pump<I extends DescMessage>(st: CallStream, input: I, requests: AsyncIterable<MessageInitShape<I>>, stopped: () => boolean): Promise<void> {
  try {
    for await (const r of requests) {
      if (stopped()) return;
      await st.send(toBinary(input, create(input, r)));
    }
    st.closeSend();
  } catch (err: unknown) {
    if (err instanceof RpcError) return; // the stream failed: the reader sees it
    st.fail(new RpcError("canceled", `the requests failed: ${String(err)}`), true);
  }
}

function applyStreamInterceptors(fn: StreamFn, client: ClientOptions | undefined): StreamFn {
  const chain = client?.streamInterceptors ?? [];
  for (let i = chain.length - 1; i >= 0; i--) fn = chain[i]!(fn);
  return fn;
}

/** Calls a server-streaming method served as a stream of its own: iterate the responses; break (or abort) to stop. */
export function callServerStream<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  request: MessageInitShape<I>,
  options?: CallOptions,
  client?: ClientOptions,
): AsyncIterable<MessageShape<O>> {
  const fn = applyStreamInterceptors((req) => ({
    [Symbol.asyncIterator]: () => {
      const st = new CallStream(socket, req.event, options);
      const opened = st.open(req, toBinary(input, req.message as MessageShape<I>));
      opened.catch(() => undefined); // seen by next()
      return responses(st, output, opened, () => undefined);
    },
  }), client);
  return {
    [Symbol.asyncIterator]: () => fn(callRequest(event, "unknown", create(input, request), client, options))[Symbol.asyncIterator]() as AsyncIterator<MessageShape<O>>,
  };
}

/** Calls a bidirectional method: requests are sent as they come (with flow control) while the responses are iterated. */
export function callBidiStream<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
  client?: ClientOptions,
): AsyncIterable<MessageShape<O>> {
  const fn = applyStreamInterceptors((req) => ({
    [Symbol.asyncIterator]: () => {
      const st = new CallStream(socket, req.event, options);
      let stopped = false;
      const opened = st.open(req, null);
      opened.then(() => pump(st, input, req.message as AsyncIterable<MessageInitShape<I>>, () => stopped), () => undefined);
      return responses(st, output, opened, () => {
        stopped = true;
      });
    },
  }), client);
  return {
    [Symbol.asyncIterator]: () => fn(callRequest(event, "unknown", requests, client, options))[Symbol.asyncIterator]() as AsyncIterator<MessageShape<O>>,
  };
}

/** Calls a client-streaming method: sends every request (with flow control), then resolves with the response. */
export async function callClientStream<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
  client?: ClientOptions,
): Promise<MessageShape<O>> {
  const it = callBidiStream(socket, event, input, output, requests, options, client)[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new RpcError("internal", `${event} ended without a response`);
  const end = await it.next();
  if (!end.done) throw new RpcError("internal", `${event} sent more than one response`);
  return first.value;
}

/** Serves a method of a client-side service: the server calls it, the handler answers. */
export function registerHandler<I extends DescMessage, O extends DescMessage>(
  socket: Socket,
  event: string,
  input: I,
  output: O,
  handler: (request: MessageShape<I>, context: HandlerContext) => Promise<MessageInitShape<O>> | MessageInitShape<O>,
): () => void {
  const listener = (...args: unknown[]): void => {
    const last = args[args.length - 1];
    if (typeof last !== "function") return;
    const reply = last as (value: unknown) => void;
    const bytes = toBytes(args[0]);
    if (bytes === undefined) {
      reply({ code: "invalid_argument", message: "the request must be a binary attachment" });
      return;
    }
    const meta = (args.length > 2 && typeof args[1] === "object" && args[1] !== null ? args[1] : {}) as CallMeta;
    const controller = new AbortController();
    const timer = meta.timeoutMs !== undefined ? setTimeout(() => controller.abort(), meta.timeoutMs) : undefined;
    Promise.resolve()
      .then(() => handler(fromBinary(input, bytes), { event, headers: meta.headers ?? {}, signal: controller.signal }))
      .then(
        (response) => reply(wire(toBinary(output, create(output, response)))),
        (err: unknown) => reply(statusOf(err)),
      )
      .finally(() => clearTimeout(timer));
  };
  socket.on(event, listener);
  return () => {
    socket.off(event, listener);
  };
}
