// A @connectrpc/connect Transport over socket.io-client: the clients that
// createClient makes from protoc-gen-es service descriptors call a sio
// server, with Connect's errors, interceptors, call options and all four
// method kinds. The mapping is sio's wire protocol (runtime/rpc/PROTOCOL.md
// in the sio repository); this file only translates between the two APIs.

import { getOption, type DescMessage, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type Interceptor, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { Manager, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

import { client_side, event as eventOption, namespace as namespaceOption, server_stream, ServerStreamKind } from "./gen/sio/v1/options_pb.js";
import {
  callBidiStream,
  callServerStream,
  callUnary,
  defaultTimeoutMs,
  RpcError,
  subscribe,
  type CallOptions,
  type Code as SioCode,
  type Idempotency,
} from "./index.js";

/** Options of createSioTransport. */
export interface SioTransportOptions {
  /**
   * The server, such as "http://127.0.0.1:8080" (and the Engine.IO path in
   * socketOptions.path if it is not /socket.io/). The transport opens one
   * connection and a socket per namespace on it, as the methods need them.
   */
  baseUrl?: string;
  /** socket.io-client options of that connection, for example transports or auth. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Instead of baseUrl: the socket to call a namespace's methods on. The
   * transport neither opens nor closes sockets it is given.
   */
  socket?: (namespace: string) => Socket;
  /** Connect interceptors, the first one outermost. */
  interceptors?: Interceptor[];
  /** The deadline of unary calls made without timeoutMs; 30 s when unset. */
  defaultTimeoutMs?: number;
}

/** A Transport that also closes the sockets it opened. */
export interface SioTransport extends Transport {
  /** Disconnects the sockets the transport opened; later calls open them again. */
  close(): void;
}

/** How a method is carried: its namespace, its event, its kind of stream. */
interface Route {
  readonly namespace: string;
  readonly event: string;
  readonly idempotency: Idempotency;
  /** For a server-streaming method: a room subscription rather than a stream of its own. */
  readonly room: boolean;
}

const routes = new WeakMap<DescMethod, Route>();

/** The route of method, from its sio options or their defaults. */
function routeOf(method: DescMethod): Route {
  let r = routes.get(method);
  if (r !== undefined) return r;
  const service = method.parent;
  if (getOption(service, client_side)) {
    throw new ConnectError(`${service.typeName} is implemented by clients: the server calls it, clients serve it`, Code.Unimplemented);
  }
  const event = getOption(method, eventOption);
  r = {
    namespace: getOption(service, namespaceOption) || "/",
    event: event !== "" ? event : `${service.typeName}/${method.name}`,
    // MethodOptions.IdempotencyLevel: 1 NO_SIDE_EFFECTS, 2 IDEMPOTENT.
    idempotency: method.idempotency === 1 ? "no_side_effects" : method.idempotency === 2 ? "idempotent" : "unknown",
    room: getOption(method, server_stream) !== ServerStreamKind.CALL,
  };
  routes.set(method, r);
  return r;
}

// sio's code names and Connect's numeric codes.
const connectCodes: Record<SioCode, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/** The ConnectError for err, an RpcError (with its details) or anything else. */
function connectError(err: unknown, trailer?: Headers): ConnectError {
  if (!(err instanceof RpcError)) return ConnectError.from(err);
  const e = new ConnectError(err.rawMessage, connectCodes[err.code], trailer, undefined, err);
  for (const d of err.details) e.details.push({ type: d.type, value: d.value });
  return e;
}

function headerRecord(header: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  header.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/** Rethrows the failures of it as ConnectErrors, with the trailers the server sent. */
function connectIterable<T>(it: AsyncIterable<T>, trailer: Headers): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const inner = it[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            return await inner.next();
          } catch (err: unknown) {
            throw connectError(err, trailer);
          }
        },
        async return() {
          await inner.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * The signal a sio call gets from Connect's: it follows every abort but
 * the deadline's, since sio keeps the deadline itself and tells the server
 * that the deadline, not the caller, ended the call.
 */
function cancelSignal(signal: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const follow = (): void => {
    const reason: unknown = signal.reason;
    if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) return;
    controller.abort(reason);
  };
  if (signal.aborted) follow();
  else signal.addEventListener("abort", follow, { once: true });
  return controller.signal;
}

/** The one request of a server-streaming call, which Connect hands over as an iterable. */
async function onlyRequest<I extends DescMessage>(requests: AsyncIterable<MessageInitShape<I>>, method: DescMethod): Promise<MessageInitShape<I>> {
  let first: MessageInitShape<I> | undefined;
  let n = 0;
  for await (const r of requests) {
    if (n++ === 0) first = r;
  }
  if (n !== 1 || first === undefined) {
    throw new ConnectError(`${method.parent.typeName}.${method.name} takes exactly one request, got ${n}`, Code.InvalidArgument);
  }
  return first;
}

/**
 * Makes a Connect Transport that calls a sio server over Socket.IO:
 *
 *   const transport = createSioTransport({ baseUrl: "http://127.0.0.1:8080" });
 *   const client = createClient(ChatService, transport);
 *   const res = await client.sendMessage({ text: "hi" }, { timeoutMs: 5000 });
 *
 * Errors are ConnectErrors with sio's status codes; timeoutMs, signal and
 * headers travel with the call as in any sio call; unary calls without
 * timeoutMs get defaultTimeoutMs. Server streams are room subscriptions or
 * streams of their own, as the method's (sio.v1.server_stream) option says.
 */
export function createSioTransport(options: SioTransportOptions): SioTransport {
  if (options.socket === undefined && options.baseUrl === undefined) {
    throw new TypeError("createSioTransport needs baseUrl or socket");
  }
  let manager: Manager | undefined;
  const opened = new Map<string, Socket>();
  const socketFor = (namespace: string): Socket => {
    if (options.socket !== undefined) return options.socket(namespace);
    let s = opened.get(namespace);
    if (s === undefined) {
      manager ??= new Manager(options.baseUrl, options.socketOptions);
      s = manager.socket(namespace, options.socketOptions);
      if (s.disconnected) s.connect();
      opened.set(namespace, s);
    }
    return s;
  };
  const unaryTimeout = options.defaultTimeoutMs ?? defaultTimeoutMs;

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const route = routeOf(method);
      const deadline = Date.now() + (timeoutMs ?? unaryTimeout);
      return runUnaryCall<I, O>({
        interceptors: options.interceptors ?? [],
        ...(signal !== undefined ? { signal } : {}),
        timeoutMs: timeoutMs ?? unaryTimeout,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "SIO",
          url: route.event,
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const call: CallOptions = { timeoutMs: deadline - Date.now(), signal: cancelSignal(req.signal), headers: headerRecord(req.header) };
          try {
            const message = await callUnary(socketFor(route.namespace), route.event, method.input, method.output, req.message, call, undefined, route.idempotency);
            return { stream: false, service: method.parent, method, header: new Headers(), message, trailer: new Headers() };
          } catch (err: unknown) {
            throw connectError(err);
          }
        },
      });
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const route = routeOf(method);
      return runStreamingCall<I, O>({
        interceptors: options.interceptors ?? [],
        ...(signal !== undefined ? { signal } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: "SIO",
          url: route.event,
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const trailer = new Headers();
          const call: CallOptions = {
            signal: cancelSignal(req.signal),
            headers: headerRecord(req.header),
            onTrailers: (t) => {
              for (const [k, v] of Object.entries(t)) trailer.set(k, v);
            },
          };
          if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
          const socket = socketFor(route.namespace);
          let messages: AsyncIterable<MessageShape<O>>;
          if (method.methodKind === "server_streaming") {
            const request = await onlyRequest(req.message, method);
            messages = route.room
              ? subscribe(socket, route.event, method.input, method.output, request, call, undefined, route.idempotency)
              : callServerStream(socket, route.event, method.input, method.output, request, call);
          } else {
            // Client-streaming and bidirectional methods are one kind of
            // stream on the wire; Connect's client checks for one response.
            messages = callBidiStream(socket, route.event, method.input, method.output, req.message, call);
          }
          return { stream: true, service: method.parent, method, header: new Headers(), message: connectIterable(messages, trailer), trailer };
        },
      });
    },

    close(): void {
      for (const s of opened.values()) s.disconnect();
      opened.clear();
      manager = undefined;
    },
  };
}
