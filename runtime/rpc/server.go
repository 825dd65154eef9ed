package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

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

// HandlerOption configures handlers. Options are created by the With
// functions of this package.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	unary     []UnaryInterceptor
	subscribe []SubscribeInterceptor
	logger    *slog.Logger
	maxCalls  int
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

// WithLogger sets where the server logs recovered handler panics (at
// error level, with the method, the socket and the stack), responses too
// big to send (warn), and unknown methods and malformed requests (debug).
// Default: slog.Default().
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.logger = l })
}

// DefaultMaxCallsPerSocket is how many calls one socket may have in
// flight, queued or running, unless WithMaxCallsPerSocket says otherwise.
const DefaultMaxCallsPerSocket = 100

// WithMaxCallsPerSocket bounds the calls one socket may have in flight;
// beyond it a call is answered at once with CodeResourceExhausted, so one
// client cannot queue work without bound. The bound of the first Register
// on a namespace holds for all its services.
func WithMaxCallsPerSocket(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n > 0 {
			c.maxCalls = n
		}
	})
}

func newHandlerConfig(opts []HandlerOption) *handlerConfig {
	c := &handlerConfig{logger: slog.Default(), maxCalls: DefaultMaxCallsPerSocket}
	for _, o := range opts {
		o.applyHandler(c)
	}
	return c
}

// Handler serves one method. Create it with NewUnaryHandler or
// NewServerStreamHandler and install it with Register.
type Handler struct {
	event string
	serve func(ctx context.Context, s *socketio.Socket, req []byte, meta callMeta, ack socketio.Ack)
	cfg   *handlerConfig
}

// Event returns the method's event name.
func (h *Handler) Event() string { return h.event }

// NewUnaryHandler serves a unary method: the request arrives as a binary
// attachment, fn runs on its own goroutine with a context that ends at the
// caller's deadline or disconnection, and its response or error goes back
// in the ack. A panic in fn becomes CodeInternal.
func NewUnaryHandler[Req, Res proto.Message](event string, fn func(context.Context, Req) (Res, error), opts ...HandlerOption) *Handler {
	cfg := newHandlerConfig(opts)
	call := UnaryFunc(func(ctx context.Context, req proto.Message) (proto.Message, error) {
		return fn(ctx, req.(Req))
	})
	for i := len(cfg.unary) - 1; i >= 0; i-- {
		call = cfg.unary[i](call)
	}
	return &Handler{event: event, cfg: cfg, serve: func(ctx context.Context, s *socketio.Socket, data []byte, _ callMeta, ack socketio.Ack) {
		req := newMessage[Req]()
		if err := proto.Unmarshal(data, req); err != nil {
			_ = ack(statusOf(Errorf(CodeInvalidArgument, "request does not decode: %v", err)))
			return
		}
		res, err := call(ctx, req)
		if err != nil {
			_ = ack(statusOf(err))
			return
		}
		b, err := marshalArg(res)
		if err != nil {
			_ = ack(statusOf(err))
			return
		}
		if limit := maxResponseBytes(s); limit > 0 && int64(len(b)) > limit {
			// Sent, it would break the client's connection (its limit is
			// the server's, as the reference client has none of its own).
			cfg.logger.Warn("rpc: response too big to send", "method", event, "socket", s.ID(), "bytes", len(b), "limit", limit)
			_ = ack(statusOf(Errorf(CodeResourceExhausted, "the response is %d bytes, over the limit of %d", len(b), limit)))
			return
		}
		_ = ack(b)
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
	return &Handler{event: event, cfg: cfg, serve: func(ctx context.Context, s *socketio.Socket, data []byte, _ callMeta, ack socketio.Ack) {
		req := newMessage[Req]()
		if err := proto.Unmarshal(data, req); err != nil {
			_ = ack(statusOf(Errorf(CodeInvalidArgument, "request does not decode: %v", err)))
			return
		}
		room, err := sub(ctx, req)
		if err != nil {
			_ = ack(statusOf(err))
			return
		}
		key := StreamKey(event, room)
		// Join before answering: a message published from now on reaches
		// this socket, and the client buffers any that beat the ack.
		s.Join(key)
		_ = ack(subscribeReply{Stream: key})
	}}
}

// Register installs handlers on a namespace: every socket that joins it
// can call them. Unknown methods on the namespace (events shaped like
// "pkg.Service/Method") are answered with CodeUnimplemented. It fails,
// installing nothing, if one of the events is already served on nsp.
func Register(nsp *socketio.Namespace, handlers ...*Handler) error {
	if err := claimEvents(nsp, handlers); err != nil {
		return err
	}
	byEvent := make(map[string]*Handler, len(handlers))
	for _, h := range handlers {
		byEvent[h.event] = h
	}
	cfg := newHandlerConfig(nil)
	if len(handlers) > 0 {
		cfg = handlers[0].cfg
	}
	state := serverStateOf(nsp.Server())
	nsp.OnConnection(func(s *socketio.Socket) {
		calls := callsOf(s, cfg, state)
		for event, h := range byEvent {
			s.On(event, func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
				if ack == nil {
					return // a call without an ack has nobody to answer
				}
				data, meta, err := requestArgs(args)
				if err != nil {
					h.cfg.logger.Debug("rpc: malformed call", "method", h.event, "socket", s.ID(), "err", err)
					_ = ack(statusOf(err))
					return
				}
				c := &call{h: h, calls: calls, s: s, data: data, meta: meta, ack: ack, received: time.Now()}
				if !state.begin() {
					_ = ack(statusOf(Errorf(CodeUnavailable, "the server is shutting down")))
					return
				}
				if !calls.add(c) {
					state.end()
					_ = ack(statusOf(Errorf(CodeResourceExhausted, "more than %d calls in flight on this socket", calls.limit)))
					return
				}
				callWorkers.Go(c)
			})
		}
	})
	return nil
}

// registered holds, per namespace, the events Register has installed, so
// that serving one twice is an error rather than a silent second handler.
var registered sync.Map // *socketio.Namespace -> *eventSet

type eventSet struct {
	mu     sync.Mutex
	events map[string]bool
}

// claimEvents records handlers' events on nsp, or fails naming the first
// one already served there (or given twice).
func claimEvents(nsp *socketio.Namespace, handlers []*Handler) error {
	v, _ := registered.LoadOrStore(nsp, &eventSet{events: map[string]bool{}})
	set := v.(*eventSet)
	set.mu.Lock()
	defer set.mu.Unlock()
	seen := map[string]bool{}
	for _, h := range handlers {
		if set.events[h.event] || seen[h.event] {
			return fmt.Errorf("rpc: %s is already served on namespace %s", h.event, nsp.Name())
		}
		seen[h.event] = true
	}
	for e := range seen {
		set.events[e] = true
	}
	return nil
}

// callWorkers run calls, each on a goroutine of its own, reusing them.
var callWorkers = workers.New()

// call is one call handed to a worker: its inputs and, allocated with
// them, the handler's context.
type call struct {
	h        *Handler
	calls    *socketCalls
	s        *socketio.Socket
	data     []byte
	meta     callMeta
	ack      socketio.Ack
	received time.Time
	ctx      callContext
	canceled atomic.Bool // the caller sent a cancel
}

// Run serves the call on a worker.
func (c *call) Run() {
	defer c.calls.state.end()
	defer c.calls.done(c)
	h, meta, ack := c.h, c.meta, c.ack
	if c.canceled.Load() {
		_ = ack(statusOf(Errorf(CodeCanceled, "the caller canceled the call before it started")))
		return
	}
	parent := c.calls.ctx
	if meta.hasTimeout {
		// The deadline counts from when the call arrived, so time spent
		// waiting for a worker is not given to the handler again; a call
		// whose caller has already given up never starts.
		deadline := c.received.Add(meta.timeout)
		if !time.Now().Before(deadline) {
			_ = ack(statusOf(Errorf(CodeDeadlineExceeded, "the deadline passed before the handler started")))
			return
		}
		var cancel context.CancelFunc
		parent, cancel = context.WithDeadline(parent, deadline)
		defer cancel()
	}
	cc := &c.ctx
	cc.init(parent, CallInfo{Event: h.event, Socket: c.s, Header: meta.headers})
	defer cc.end()
	defer func() {
		if r := recover(); r != nil {
			h.cfg.logger.Error("rpc: handler panicked", "method", h.event, "socket", c.s.ID(), "panic", r, "stack", string(debug.Stack()))
			_ = ack(statusOf(Errorf(CodeInternal, "internal error")))
		}
	}()
	h.serve(cc, c.s, c.data, meta, ack)
}

// socketCalls are one socket's calls in flight: bounded in number, and
// found by id when the caller cancels one. Every Register on the socket's
// namespace shares them.
type socketCalls struct {
	ctx    context.Context // ends when the socket disconnects
	state  *serverState
	limit  int
	mu     sync.Mutex
	n      int
	byID   map[string]*call
	closed bool
}

// sockets maps each connected socket to its calls.
var sockets sync.Map // *socketio.Socket -> *socketCalls

// callsOf returns s's calls, creating them, with the socket's handlers
// for cancels, stream leaves and unknown methods, on first use.
func callsOf(s *socketio.Socket, cfg *handlerConfig, state *serverState) *socketCalls {
	if v, ok := sockets.Load(s); ok {
		return v.(*socketCalls)
	}
	// The socket's context lives until it disconnects, or until a
	// shutdown runs out of time.
	ctx, cancel := context.WithCancel(state.ctx)
	calls := &socketCalls{ctx: ctx, state: state, limit: cfg.maxCalls}
	if v, loaded := sockets.LoadOrStore(s, calls); loaded {
		cancel()
		return v.(*socketCalls)
	}
	s.OnDisconnect(func(s *socketio.Socket, _ socketio.DisconnectReason) {
		sockets.Delete(s)
		calls.mu.Lock()
		calls.closed = true
		calls.mu.Unlock()
		cancel()
	})
	s.On(CancelEvent, func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
		var id, reason string
		if args.Decode(0, &id) == nil {
			_ = args.Decode(1, &reason)
			calls.cancel(id, reason == CodeDeadlineExceeded.String())
		}
	})
	installSocketHandlers(s, cfg.logger)
	return calls
}

// add counts c in, unless the socket is at its limit.
func (sc *socketCalls) add(c *call) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.n >= sc.limit {
		return false
	}
	sc.n++
	if c.meta.id != "" && !sc.closed {
		if sc.byID == nil {
			sc.byID = map[string]*call{}
		}
		sc.byID[c.meta.id] = c
	}
	return true
}

// done counts c out.
func (sc *socketCalls) done(c *call) {
	sc.mu.Lock()
	sc.n--
	if c.meta.id != "" && sc.byID[c.meta.id] == c {
		delete(sc.byID, c.meta.id)
	}
	sc.mu.Unlock()
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
		c.canceled.Store(true)
		if expired {
			c.ctx.expire()
		} else {
			c.ctx.end()
		}
	}
}

// serverState is the calls of one socketio.Server, for its graceful
// shutdown: once it begins no call starts, and running ones are waited
// for, then cancelled if the shutdown runs out of time.
type serverState struct {
	ctx    context.Context // every handler's context derives from it
	cancel context.CancelFunc

	mu       sync.Mutex
	running  int
	draining bool
	idle     chan struct{} // closed when draining and nothing runs
}

// servers maps each socketio.Server with registered services to its state.
var servers sync.Map // *socketio.Server -> *serverState

// serverStateOf returns srv's state, registering its shutdown hook on
// first use.
func serverStateOf(srv *socketio.Server) *serverState {
	if v, ok := servers.Load(srv); ok {
		return v.(*serverState)
	}
	ctx, cancel := context.WithCancel(context.Background()) //sio:root-context
	st := &serverState{ctx: ctx, cancel: cancel, idle: make(chan struct{})}
	if v, loaded := servers.LoadOrStore(srv, st); loaded {
		cancel()
		return v.(*serverState)
	}
	srv.RegisterOnShutdown(st.shutdown)
	return st
}

// begin counts a call in, unless the server is shutting down.
func (st *serverState) begin() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.draining {
		return false
	}
	st.running++
	return true
}

// end counts a call out.
func (st *serverState) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.running--
	if st.draining && st.running == 0 {
		close(st.idle)
	}
}

// shutdown refuses new calls, waits for running ones until ctx ends, then
// cancels those still running.
func (st *serverState) shutdown(ctx context.Context) {
	st.mu.Lock()
	if !st.draining {
		st.draining = true
		if st.running == 0 {
			close(st.idle)
		}
	}
	st.mu.Unlock()
	select {
	case <-st.idle:
	case <-ctx.Done():
	}
	st.cancel()
}

// maxResponseBytes is the largest message the socket's connection takes:
// the server's MaxHTTPBufferSize, which is also the official client's
// default view of a sane message.
func maxResponseBytes(s *socketio.Socket) int64 {
	return s.Namespace().Server().Engine().MaxHTTPBufferSize()
}

// installSocketHandlers lets the client leave a stream it subscribed to,
// and answers calls of unknown methods with CodeUnimplemented rather than
// leave the caller waiting. It runs once per socket.
func installSocketHandlers(s *socketio.Socket, logger *slog.Logger) {
	s.On(StreamCancelEvent, func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
		var key string
		if args.Decode(0, &key) == nil && strings.Contains(key, "#") {
			s.Leave(key)
		}
	})
	s.OnUnhandled(func(s *socketio.Socket, event string, _ socketio.Args, ack socketio.Ack) {
		if ack != nil && isMethodEvent(event) {
			logger.Debug("rpc: call of an unknown method", "method", event, "socket", s.ID())
			_ = ack(statusOf(Errorf(CodeUnimplemented, "%s is not implemented on namespace %s", event, s.Namespace().Name())))
		}
	})
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
