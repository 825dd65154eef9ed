package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/internal/workers"
	"github.com/sio-dev/sio/runtime/socketio"
)

// UnaryFunc is a unary call as interceptors see it.
type UnaryFunc func(ctx context.Context, req proto.Message) (proto.Message, error)

// UnaryInterceptor wraps unary calls: authentication, logging, metrics.
type UnaryInterceptor func(next UnaryFunc) UnaryFunc

// SubscribeFunc is a stream subscription as interceptors see it: it
// returns the room the caller joins.
type SubscribeFunc func(ctx context.Context, req proto.Message) (room string, err error)

// SubscribeInterceptor wraps stream subscriptions.
type SubscribeInterceptor func(next SubscribeFunc) SubscribeFunc

// StreamFunc is a per-call stream (client-streaming, bidirectional, or
// per-call server-streaming) as interceptors see it: it runs the handler
// and returns what ends the call. CallInfoFromContext(ctx) tells the
// method, the socket and the call's headers.
type StreamFunc func(ctx context.Context) error

// StreamInterceptor wraps per-call streams: it may refuse one (return an
// error without calling next), change its context, or observe its end.
type StreamInterceptor func(next StreamFunc) StreamFunc

// HandlerOption configures handlers. Options are created by the With
// functions of this package.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	unary     []UnaryInterceptor
	subscribe []SubscribeInterceptor
	stream    []StreamInterceptor
	logger    *slog.Logger
	maxCalls  int
	workers   int
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// WithInterceptors adds unary interceptors; the first is outermost.
func WithInterceptors(i ...UnaryInterceptor) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.unary = append(c.unary, i...) })
}

// WithSubscribeInterceptors adds stream subscription interceptors; the
// first is outermost.
func WithSubscribeInterceptors(i ...SubscribeInterceptor) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.subscribe = append(c.subscribe, i...) })
}

// WithStreamInterceptors adds interceptors of per-call streams; the first
// is outermost.
func WithStreamInterceptors(i ...StreamInterceptor) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.stream = append(c.stream, i...) })
}

// WithLogger sets where the server logs recovered handler panics (at
// error level, with the method, the socket and the stack), responses too
// big to send (warn), and unknown methods and malformed requests (debug).
// Default: slog.Default().
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.logger = siolog.Logger("rpc", l) })
}

// DefaultMaxCallsPerSocket is how many calls one socket may have in
// flight, queued or running, unless WithMaxCallsPerSocket says otherwise.
const DefaultMaxCallsPerSocket = 100

// WithMaxCallsPerSocket bounds the calls one socket may have in flight;
// beyond it a call is answered at once with CodeResourceExhausted, so one
// client cannot queue work without bound. The bound of the first Register
// on a namespace holds for all its services (and, on a dynamic namespace,
// for the namespaces it creates).
func WithMaxCallsPerSocket(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n > 0 {
			c.maxCalls = n
		}
	})
}

// WithWorkers bounds how many handlers of a server run at once (default
// DefaultWorkers). Calls beyond it wait, up to four times n of them, for a
// worker; beyond that they are answered at once with
// CodeResourceExhausted, so a burst costs bounded memory. The bound of the
// first Register on a server holds for all its namespaces.
func WithWorkers(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n > 0 {
			c.workers = n
		}
	})
}

func newHandlerConfig(opts []HandlerOption) *handlerConfig {
	c := &handlerConfig{logger: siolog.Logger("rpc", nil), maxCalls: DefaultMaxCallsPerSocket, workers: DefaultWorkers}
	for _, o := range opts {
		o.applyHandler(c)
	}
	return c
}

// Handler serves one method. Create it with NewUnaryHandler or
// NewServerStreamHandler and install it with Register.
type Handler struct {
	event string
	kind  methodKind
	// serve answers a unary call or a subscription (c.reply).
	serve func(ctx context.Context, c *call)
	// serveStream runs a per-call stream; its error, or nil, ends it.
	serveStream func(ctx context.Context, st *serverStream, req []byte) error
	cfg         *handlerConfig
}

// methodKind is how a method travels.
type methodKind int

const (
	kindUnary            methodKind = iota
	kindRoomStream                  // a server stream as a room subscription
	kindCallServerStream            // a server stream of its own (version 2)
	kindClientStream                // version 2
	kindBidiStream                  // version 2
)

// perCall reports whether calls of kind are per-call streams.
func (k methodKind) perCall() bool { return k >= kindCallServerStream }

func (k methodKind) String() string {
	return [...]string{"unary", "room stream", "server-streaming", "client-streaming", "bidirectional"}[k]
}

// Event returns the method's event name.
func (h *Handler) Event() string { return h.event }

// NewUnaryHandler serves a unary method: the request arrives as a binary
// attachment, fn runs on a worker goroutine, not the connection's, with a
// context that ends at the caller's deadline or disconnection, and its
// response or error goes back in the ack. A panic in fn becomes
// CodeInternal. (A socket's calls share a worker while each returns
// within a millisecond; one that runs longer delays the others by at most
// about two.)
func NewUnaryHandler[Req, Res proto.Message](event string, fn func(context.Context, Req) (Res, error), opts ...HandlerOption) *Handler {
	cfg := newHandlerConfig(opts)
	run := UnaryFunc(func(ctx context.Context, req proto.Message) (proto.Message, error) {
		return fn(ctx, req.(Req))
	})
	for i := len(cfg.unary) - 1; i >= 0; i-- {
		run = cfg.unary[i](run)
	}
	newReq := messageMaker[Req]()
	return &Handler{event: event, cfg: cfg, serve: func(ctx context.Context, c *call) {
		req := newReq()
		if err := proto.Unmarshal(c.data, req); err != nil {
			c.answer(Errorf(CodeInvalidArgument, "request does not decode: %v", err))
			return
		}
		res, err := run(ctx, req)
		if err != nil {
			c.answer(err)
			return
		}
		b, err := marshalArg(res)
		if err != nil {
			c.answer(err)
			return
		}
		if limit := maxResponseBytes(c.socket()); limit > 0 && int64(len(b)) > limit {
			// Sent, it would break the client's connection (its limit is
			// the server's, as the reference client has none of its own).
			cfg.logger.Warn("rpc: response too big to send", "method", event, "socket", c.socket().ID(), "bytes", len(b), "limit", limit)
			c.answer(Errorf(CodeResourceExhausted, "the response is %d bytes, over the limit of %d", len(b), limit))
			return
		}
		c.reply(b)
	}}
}

// NewServerStreamHandler serves a server-streaming method as a room
// subscription: fn validates the request and returns the room to join;
// the caller's ack then carries the stream key, and everything published
// to that room with Publish reaches it, on every node.
func NewServerStreamHandler[Req proto.Message](event string, fn func(context.Context, Req) (room string, err error), opts ...HandlerOption) *Handler {
	cfg := newHandlerConfig(opts)
	sub := SubscribeFunc(func(ctx context.Context, req proto.Message) (string, error) {
		return fn(ctx, req.(Req))
	})
	for i := len(cfg.subscribe) - 1; i >= 0; i-- {
		sub = cfg.subscribe[i](sub)
	}
	newReq := messageMaker[Req]()
	return &Handler{event: event, kind: kindRoomStream, cfg: cfg, serve: func(ctx context.Context, c *call) {
		req := newReq()
		if err := proto.Unmarshal(c.data, req); err != nil {
			c.answer(Errorf(CodeInvalidArgument, "request does not decode: %v", err))
			return
		}
		room, err := sub(ctx, req)
		if err != nil {
			c.answer(err)
			return
		}
		key := StreamKey(event, room)
		// Join before answering: a message published from now on reaches
		// this socket, and the client buffers any that beat the ack.
		s := c.socket()
		s.Join(key)
		c.reply(subscribeReply{Stream: key})
		if s.Namespace().Server().ConnectionStateRecovery() != nil {
			// A recovery offset now, as for per-call streams: Socket.IO
			// recovers a session only from an offset the client holds, and a
			// subscriber that loses its connection before the room's first
			// broadcast would otherwise have none, and lose the subscription.
			giveOffset(s)
		}
	}}
}

// Register installs handlers on a namespace, once for all the sockets
// that join it (and, on a dynamic namespace, the namespaces it creates).
// Unknown methods on the namespace (events shaped like "pkg.Service/Method")
// are answered with CodeUnimplemented. It fails, installing nothing, if
// one of the events is already served on nsp.
//
// The first Register on a namespace sets its WithMaxCallsPerSocket and
// WithLogger for the namespace's cancels and unknown methods; the first on
// a server sets its WithWorkers.
func Register(nsp *socketio.Namespace, handlers ...*Handler) error {
	cfg := newHandlerConfig(nil)
	if len(handlers) > 0 {
		cfg = handlers[0].cfg
	}
	st := serverStateOf(nsp.Server(), cfg)
	ns, err := st.namespace(nsp, cfg)
	if err != nil {
		return err
	}
	var installed []func()
	for _, h := range handlers {
		remove, err := nsp.Handle(h.event, ns.handlerFor(h))
		if err != nil {
			for _, r := range installed {
				r()
			}
			return fmt.Errorf("rpc: %s is already served on namespace %s", h.event, nsp.Name())
		}
		installed = append(installed, remove)
	}
	return nil
}

// nspState is what the calls of one namespace share: the bound on calls
// per socket, and the server's state.
type nspState struct {
	server *serverState
	limit  int
	logger *slog.Logger
}

// handlerFor returns the namespace-wide event handler that starts calls of h.
func (ns *nspState) handlerFor(h *Handler) socketio.EventHandler {
	st := ns.server
	return func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
		if ack == nil {
			return // a call without an ack has nobody to answer
		}
		data, meta, err := requestArgs(args, h.kind)
		if err != nil {
			h.cfg.logger.Debug("rpc: malformed call", "method", h.event, "socket", s.ID(), "err", err)
			_ = ack(statusOf(err))
			return
		}
		calls := st.callsOf(s, ns.limit)
		c := &call{h: h, calls: calls, data: data, meta: meta, ack: ack}
		if meta.hasTimeout {
			// The deadline counts from the call's arrival, so time spent
			// waiting for a worker is not given to the handler again.
			c.ctx.setDeadline(meta.timeout)
		}
		if h.kind.perCall() {
			c.stream = newServerStream(c, s.Namespace().Server().ConnectionStateRecovery() != nil)
		}
		if !st.begin() {
			_ = ack(statusOf(Errorf(CodeUnavailable, "the server is shutting down")))
			return
		}
		switch calls.add(c) {
		case addedCall:
		case overLimit:
			st.end()
			_ = ack(statusOf(Errorf(CodeResourceExhausted, "more than %d calls in flight on this socket", calls.limit)))
			return
		case duplicateID:
			st.end()
			h.cfg.logger.Debug("rpc: call id already in flight", "method", h.event, "socket", s.ID(), "id", meta.id)
			_ = ack(statusOf(Errorf(CodeInvalidArgument, "call id %q is already in flight on this socket", meta.id)))
			return
		}
		if c.stream != nil {
			// Accepted: the caller may send its messages from now on.
			_ = ack(openReply{Window: DefaultStreamWindow})
			if recovery := s.Namespace().Server().ConnectionStateRecovery(); recovery != nil {
				calls.markOffset(s, recovery.MaxDisconnectionDuration)
			}
		}
		var started bool
		if c.stream == nil {
			started = calls.lane.run(c)
		} else {
			started = st.pool.Go(c)
		}
		if !started {
			calls.done(c)
			st.end()
			h.cfg.logger.Warn("rpc: every worker is busy and the queue is full", "method", h.event, "socket", s.ID())
			c.answer(Errorf(CodeResourceExhausted, "the server is at capacity"))
		}
	}
}

// call is one call handed to a worker: its inputs and, allocated with
// them, the handler's context.
//
// It is allocated for every call, so it is kept small (192 bytes): the
// socket is its calls', the CallInfo is made from its fields on demand.
type call struct {
	h      *Handler
	calls  *socketCalls
	data   []byte
	meta   callMeta
	ack    socketio.Ack
	ctx    callContext   // with the call's deadline, if it has one
	stream *serverStream // for per-call streams
	// replyArgs is the ack's argument list, kept here rather than
	// allocated by each answer.
	replyArgs [1]any
}

// socket is the caller's socket.
func (c *call) socket() *socketio.Socket { return c.calls.socket.Load() }

// answer ends the call with err, whatever its kind: in the ack of a call,
// in the end of a stream.
func (c *call) answer(err error) {
	if c.stream != nil {
		c.stream.end(err)
		return
	}
	c.reply(statusOf(err))
}

// reply answers a unary call or a subscription with v. Its id, if it has
// one, is free again once the caller has its answer: it is forgotten
// before the answer goes, not after, when the worker winds the call down
// (a caller may reuse it at once). The call then drops its id, so that
// done does not look for it again.
func (c *call) reply(v any) {
	if c.meta.id != "" {
		c.calls.forget(c)
		c.meta.id = ""
	}
	c.replyArgs[0] = v
	_ = c.ack(c.replyArgs[:]...)
	c.replyArgs[0] = nil
}

// Run serves the call on a worker.
func (c *call) Run() {
	h := c.h
	// One deferred function does all the ending (a handful of defers cost
	// more per call than the bookkeeping they run): a panic is answered,
	// then the context ends and the call is counted out.
	defer func() {
		if r := recover(); r != nil {
			h.cfg.logger.Error("rpc: handler panicked", "method", h.event, "socket", c.socket().ID(), "panic", r, "stack", string(debug.Stack()))
			c.answer(Errorf(CodeInternal, "internal error"))
		}
		c.ctx.end()
		c.calls.done(c)
		c.calls.state.end()
	}()
	if c.ctx.canceledByCaller() {
		c.answer(Errorf(CodeCanceled, "the caller canceled the call before it started"))
		return
	}
	// A call whose caller has already given up never starts.
	if c.ctx.expiredBeforeStart() {
		c.answer(Errorf(CodeDeadlineExceeded, "the deadline passed before the handler started"))
		return
	}
	cc := &c.ctx
	if c.stream == nil {
		cc.init(c.calls.connCtx(), c)
	} else {
		cc.init(c.calls.streams, c)
	}
	if c.stream != nil {
		run := StreamFunc(func(ctx context.Context) error { return h.serveStream(ctx, c.stream, c.data) })
		for i := len(h.cfg.stream) - 1; i >= 0; i-- {
			run = h.cfg.stream[i](run)
		}
		err := run(cc)
		if err != nil && cc.Err() != nil && errors.Is(err, cc.Err()) {
			err = NewError(CodeOf(cc.Err()), err)
		}
		c.stream.end(err)
		return
	}
	h.serve(cc, c)
}

// socketCalls are one socket's calls in flight: bounded in number, and
// found by id when the caller cancels one. Calls without an id (which
// nobody can cancel) are only counted, without the lock.
//
// With connection state recovery, a socket's per-call streams outlive a
// lost connection (resume.go): the calls are parked until the session is
// recovered, and then serve the socket of the recovered session.
type socketCalls struct {
	socket atomic.Pointer[socketio.Socket] // the connection's; replaced when the session is recovered
	conn   atomic.Pointer[context.Context] // ends when the connection's socket disconnects
	// streams is the life of the per-call streams: it ends with the
	// socket's disconnection, or, when they are parked, once the session
	// is not recovered in time.
	streams    context.Context
	endStreams context.CancelFunc
	state      *serverState
	limit      int64
	n          atomic.Int64
	mu         sync.Mutex
	byID       map[string]*call
	closed     bool
	// ended holds the streams whose end the caller has not acknowledged
	// yet, so that an end lost with the connection is sent again.
	ended map[string]*serverStream
	// timer drops parked streams: the session was not recovered, or the
	// client did not resume them.
	timer *time.Timer
	// markedAt is when the socket was last given a recovery offset, and
	// markTimer gives it the next while it has streams (markOffset).
	markedAt  time.Time
	markTimer *time.Timer
	// lane runs the socket's unary calls and subscriptions (lane.go).
	lane lane
}

// connCtx is the context unary calls of the current connection derive from.
func (sc *socketCalls) connCtx() context.Context { return *sc.conn.Load() }

// addResult is what socketCalls.add made of a call.
type addResult int

const (
	addedCall   addResult = iota
	overLimit             // the socket is at its bound
	duplicateID           // a call with the same id is in flight
)

// add counts c in, unless the socket is at its limit or already runs a
// call with c's id (which a cancel could not tell apart).
func (sc *socketCalls) add(c *call) addResult {
	if sc.n.Add(1) > sc.limit {
		sc.n.Add(-1)
		return overLimit
	}
	if c.meta.id == "" {
		return addedCall
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.closed {
		if sc.byID[c.meta.id] != nil {
			sc.n.Add(-1)
			return duplicateID
		}
		if sc.byID == nil {
			sc.byID = map[string]*call{}
		}
		sc.byID[c.meta.id] = c
	}
	return addedCall
}

// done counts c out.
func (sc *socketCalls) done(c *call) {
	sc.n.Add(-1)
	sc.forget(c)
}

// forget frees c's id: a cancel no longer finds it, and a new call may
// take it.
func (sc *socketCalls) forget(c *call) {
	if c.meta.id == "" {
		return
	}
	sc.mu.Lock()
	if sc.byID[c.meta.id] == c {
		delete(sc.byID, c.meta.id)
	}
	sc.mu.Unlock()
}

// stream returns the open per-call stream with id, nil if none.
func (sc *socketCalls) stream(id string) *serverStream {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if c := sc.byID[id]; c != nil {
		return c.stream
	}
	return nil
}

// cancel ends the call with id: a queued one never starts, a running one's
// context ends with context.Canceled, or context.DeadlineExceeded when the
// caller gave up because its deadline passed.
func (sc *socketCalls) cancel(id string, expired bool) {
	sc.mu.Lock()
	c := sc.byID[id]
	delete(sc.byID, id)
	sc.mu.Unlock()
	if c != nil {
		c.ctx.markCanceled()
		if expired {
			c.ctx.expire()
		} else {
			c.ctx.end()
		}
	}
}

// DefaultWorkers is how many handlers a server runs at once unless
// WithWorkers says otherwise. As many calls again, four times over, may
// wait for a worker; beyond that a call is answered with
// CodeResourceExhausted.
const DefaultWorkers = 2048

// serverState is the calls of one socketio.Server: its worker pool, and
// its graceful shutdown (once it begins no call starts, and running ones
// are waited for, then canceled if the shutdown runs out of time). It
// holds no strong reference to the server, so that a server nobody uses
// any more is collected with its state.
type serverState struct {
	ctx    context.Context // every handler's context derives from it
	cancel context.CancelFunc
	pool   *workers.Pool

	calls atomic.Int64  // calls running, and the draining bit
	idle  chan struct{} // closed when draining and nothing runs

	nspMu      sync.Mutex
	namespaces map[weak.Pointer[socketio.Namespace]]*nspState

	// laneMu guards lanes, the lanes with calls waiting, and watching,
	// set while their watcher runs (lane.go).
	laneMu   sync.Mutex
	lanes    []*lane
	watching bool

	sockets sync.Map // *socketio.Socket -> *socketCalls, while connected
	parked  sync.Map // parkKey -> *socketCalls: streams waiting for their session's recovery
}

// servers maps each socketio.Server with registered services to its state.
var servers sync.Map // weak.Pointer[socketio.Server] -> *serverState

// serverStateOf returns srv's state, creating it with cfg's worker bound
// and registering its shutdown hook on first use.
func serverStateOf(srv *socketio.Server, cfg *handlerConfig) *serverState {
	key := weak.Make(srv)
	if v, ok := servers.Load(key); ok {
		return v.(*serverState)
	}
	ctx, cancel := context.WithCancel(context.Background()) //sio:root-context
	st := &serverState{
		ctx: ctx, cancel: cancel, idle: make(chan struct{}),
		pool:       workers.New(cfg.workers, 4*cfg.workers),
		namespaces: map[weak.Pointer[socketio.Namespace]]*nspState{},
	}
	if v, loaded := servers.LoadOrStore(key, st); loaded {
		cancel()
		return v.(*serverState)
	}
	runtime.AddCleanup(srv, func(key weak.Pointer[socketio.Server]) { servers.Delete(key) }, key)
	srv.RegisterOnShutdown(st.shutdown)
	return st
}

// namespace returns nsp's state, installing on first use the namespace's
// handlers of cancels, stream leaves and unknown methods.
func (st *serverState) namespace(nsp *socketio.Namespace, cfg *handlerConfig) (*nspState, error) {
	key := weak.Make(nsp)
	st.nspMu.Lock()
	defer st.nspMu.Unlock()
	if ns := st.namespaces[key]; ns != nil {
		return ns, nil
	}
	ns := &nspState{server: st, limit: cfg.maxCalls, logger: cfg.logger}
	if _, err := nsp.Handle(CancelEvent, ns.onCancel); err != nil {
		return nil, fmt.Errorf("rpc: namespace %s already handles %s: %w", nsp.Name(), CancelEvent, err)
	}
	if _, err := nsp.Handle(StreamCancelEvent, onStreamCancel); err != nil {
		return nil, fmt.Errorf("rpc: namespace %s already handles %s: %w", nsp.Name(), StreamCancelEvent, err)
	}
	for event, h := range map[string]socketio.EventHandler{
		CallMessageEvent: ns.onStreamMessage,
		CallCloseEvent:   ns.onStreamClose,
		CallCreditEvent:  ns.onStreamCredit,
		CallResumeEvent:  ns.onResume,
	} {
		if _, err := nsp.Handle(event, h); err != nil {
			return nil, fmt.Errorf("rpc: namespace %s already handles %s: %w", nsp.Name(), event, err)
		}
	}
	nsp.OnUnhandled(ns.onUnknownMethod)
	nsp.OnConnection(ns.onConnect)
	st.namespaces[key] = ns
	runtime.AddCleanup(nsp, func(key weak.Pointer[socketio.Namespace]) {
		st.nspMu.Lock()
		delete(st.namespaces, key)
		st.nspMu.Unlock()
	}, key)
	return ns, nil
}

// callsOf returns s's calls, creating them on its first call.
func (st *serverState) callsOf(s *socketio.Socket, limit int) *socketCalls {
	if v, ok := st.sockets.Load(s); ok {
		return v.(*socketCalls)
	}
	calls := &socketCalls{state: st, limit: int64(limit)}
	calls.lane.st = st
	calls.streams, calls.endStreams = context.WithCancel(st.ctx)
	cancel := calls.attach(s)
	if v, loaded := st.sockets.LoadOrStore(s, calls); loaded {
		cancel()
		calls.endStreams()
		return v.(*socketCalls)
	}
	st.watch(s, calls, cancel)
	return calls
}

// attach makes s the socket of calls, with a fresh context for its unary
// calls, returned with its cancel.
func (sc *socketCalls) attach(s *socketio.Socket) context.CancelFunc {
	// The socket's calls live until it disconnects, or until a shutdown
	// runs out of time.
	ctx, cancel := context.WithCancel(sc.state.ctx)
	sc.socket.Store(s)
	sc.conn.Store(&ctx)
	return cancel
}

// watch ends s's calls when it disconnects: the unary calls at once, the
// per-call streams too unless they can wait for the session's recovery.
func (st *serverState) watch(s *socketio.Socket, calls *socketCalls, cancel context.CancelFunc) {
	s.OnDisconnect(func(s *socketio.Socket, reason socketio.DisconnectReason) {
		st.sockets.Delete(s)
		calls.mu.Lock()
		calls.closed = true
		calls.mu.Unlock()
		cancel()
		if !st.park(s, calls, reason) {
			calls.endStreams()
		}
	})
	if !s.Connected() {
		// It left between the call's arrival and here: its disconnect
		// handlers may have run already.
		st.sockets.Delete(s)
		cancel()
		calls.endStreams()
	}
}

// onCancel ends the call the caller gave up on.
func (ns *nspState) onCancel(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
	var id, reason string
	if args.Decode(0, &id) != nil {
		return
	}
	_ = args.Decode(1, &reason)
	if v, ok := ns.server.sockets.Load(s); ok {
		v.(*socketCalls).cancel(id, reason == CodeDeadlineExceeded.String())
	}
}

// onStreamCancel lets the client leave a stream it subscribed to.
func onStreamCancel(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
	var key string
	if args.Decode(0, &key) == nil && strings.Contains(key, "#") {
		s.Leave(key)
	}
}

// onUnknownMethod answers calls of unknown methods with CodeUnimplemented
// rather than leave the caller waiting.
func (ns *nspState) onUnknownMethod(s *socketio.Socket, event string, _ socketio.Args, ack socketio.Ack) {
	if ack != nil && isMethodEvent(event) {
		ns.logger.Debug("rpc: call of an unknown method", "method", event, "socket", s.ID())
		_ = ack(statusOf(Errorf(CodeUnimplemented, "%s is not implemented on namespace %s", event, s.Namespace().Name())))
	}
}

// draining is the bit of serverState.calls set once a shutdown began;
// the other bits count the calls running.
const draining = int64(1) << 62

// begin counts a call in, unless the server is shutting down.
func (st *serverState) begin() bool {
	for {
		v := st.calls.Load()
		if v&draining != 0 {
			return false
		}
		if st.calls.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// end counts a call out; the last one out of a draining server says so.
func (st *serverState) end() {
	if st.calls.Add(-1) == draining {
		close(st.idle)
	}
}

// shutdown refuses new calls, waits for running ones until ctx ends, then
// cancels those still running.
func (st *serverState) shutdown(ctx context.Context) {
	// Only the first shutdown sets the bit; it closes idle itself if no
	// call runs, else the last call's end does (no call begins after).
	if v := st.calls.Or(draining); v&draining == 0 && v == 0 {
		close(st.idle)
	}
	// Parked streams wait for clients that are gone: they cannot finish.
	st.parked.Range(func(key, v any) bool {
		if st.parked.CompareAndDelete(key, v) {
			v.(*socketCalls).endStreams()
		}
		return true
	})
	select {
	case <-st.idle:
	case <-ctx.Done():
	}
	st.cancel()
}

// WorkerStats are what a server's calls occupy now: read by metrics
// exporters (sio's Prometheus collector) at each scrape.
type WorkerStats struct {
	// InFlight counts the calls begun and not ended: queued or running.
	InFlight int64
	// Workers is the goroutines of the handler pool, busy or idle.
	Workers int64
	// Queued counts the calls waiting for a worker.
	Queued int
}

// Workers returns srv's WorkerStats; zero if no service is registered on it.
func Workers(srv *socketio.Server) WorkerStats {
	v, ok := servers.Load(weak.Make(srv))
	if !ok {
		return WorkerStats{}
	}
	st := v.(*serverState)
	return WorkerStats{InFlight: st.calls.Load() &^ draining, Workers: st.pool.Workers(), Queued: st.pool.Queued()}
}

// maxResponseBytes is the largest message the socket's connection takes:
// the server's MaxHTTPBufferSize, which is also the official client's
// default view of a sane message.
func maxResponseBytes(s *socketio.Socket) int64 {
	return s.Namespace().Server().Engine().MaxHTTPBufferSize()
}

// isMethodEvent reports whether event looks like "pkg.Service/Method".
func isMethodEvent(event string) bool {
	svc, method, ok := strings.Cut(event, "/")
	return ok && strings.Contains(svc, ".") && method != "" && !strings.Contains(method, "/")
}

// Publish sends msg to every subscriber of a method's stream for room, on
// every node (through the namespace's adapter). It is encoded once.
func Publish(nsp *socketio.Namespace, event, room string, msg proto.Message) error {
	b, err := marshalArg(msg)
	if err != nil {
		return err
	}
	key := StreamKey(event, room)
	return nsp.To(key).Emit(StreamMessageEvent, key, b)
}

// EndStream ends a method's stream for room: subscribers are told (with
// err's status, or a clean end if err is nil) and leave the room.
func EndStream(nsp *socketio.Namespace, event, room string, err error) error {
	key := StreamKey(event, room)
	var status any
	if err != nil {
		status = statusOf(err)
	}
	if e := nsp.To(key).Emit(StreamEndEvent, key, status); e != nil {
		return e
	}
	nsp.In(key).SocketsLeave(key)
	return nil
}

// CallClient calls a method that the client implements (a service marked
// client_side) on socket s, and waits for its answer until ctx is done.
func CallClient[Res proto.Message](ctx context.Context, s *socketio.Socket, event string, req proto.Message) (Res, error) {
	var zero Res
	b, err := marshalArg(req)
	if err != nil {
		return zero, err
	}
	args, err := s.EmitWithAck(ctx, event, b, metaFor(ctx))
	if err != nil {
		return zero, callError(ctx, err)
	}
	return decodeReply[Res](args)
}

// CheckEmbedding returns an error if check panics, which is how generated
// Register functions detect an Unimplemented…Server embedded by pointer
// (nil), instead of failing on the first call.
func CheckEmbedding(service string, check func()) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("rpc: %s: Unimplemented%sServer must be embedded by value, not by pointer", service, service)
		}
	}()
	check()
	return nil
}
