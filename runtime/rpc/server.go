package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

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

// WithLogger sets where recovered handler panics are logged. Default:
// nowhere.
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.logger = l })
}

func newHandlerConfig(opts []HandlerOption) *handlerConfig {
	c := &handlerConfig{logger: slog.New(slog.DiscardHandler)}
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
	return &Handler{event: event, cfg: cfg, serve: func(ctx context.Context, _ *socketio.Socket, data []byte, _ callMeta, ack socketio.Ack) {
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
// "pkg.Service/Method") are answered with CodeUnimplemented.
func Register(nsp *socketio.Namespace, handlers ...*Handler) {
	byEvent := make(map[string]*Handler, len(handlers))
	for _, h := range handlers {
		byEvent[h.event] = h
	}
	nsp.OnConnection(func(s *socketio.Socket) {
		// The socket's context lives until it disconnects.
		sockCtx, cancel := context.WithCancel(context.Background()) //sio:root-context
		s.OnDisconnect(func(*socketio.Socket, socketio.DisconnectReason) { cancel() })
		for event, h := range byEvent {
			s.On(event, func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
				if ack == nil {
					return // a call without an ack has nobody to answer
				}
				data, meta, err := requestArgs(args)
				if err != nil {
					_ = ack(statusOf(err))
					return
				}
				callWorkers.Go(&call{h: h, sockCtx: sockCtx, s: s, data: data, meta: meta, ack: ack})
			})
		}
		installSocketHandlers(s)
	})
}

// callWorkers run calls, each on a goroutine of its own, reusing them.
var callWorkers = workers.New()

// call is one call handed to a worker: its inputs and, allocated with
// them, the handler's context.
type call struct {
	h       *Handler
	sockCtx context.Context
	s       *socketio.Socket
	data    []byte
	meta    callMeta
	ack     socketio.Ack
	ctx     callContext
}

// Run serves the call on a worker.
func (c *call) Run() {
	h, meta, ack := c.h, c.meta, c.ack
	parent := c.sockCtx
	if meta.hasTimeout {
		var cancel context.CancelFunc
		parent, cancel = context.WithTimeout(parent, meta.timeout)
		defer cancel()
	}
	cc := &c.ctx
	cc.init(parent, CallInfo{Event: h.event, Socket: c.s, Header: meta.headers})
	defer cc.end()
	defer func() {
		if r := recover(); r != nil {
			h.cfg.logger.Error("rpc: handler panicked", "event", h.event, "panic", r)
			_ = ack(statusOf(Errorf(CodeInternal, "internal error")))
		}
	}()
	h.serve(cc, c.s, c.data, meta, ack)
}

// installSocketHandlers lets the client leave a stream it subscribed to,
// and answers calls of unknown methods with CodeUnimplemented rather than
// leave the caller waiting. With several services on one namespace each
// installs them; the repeats are harmless (a second ack is refused).
func installSocketHandlers(s *socketio.Socket) {
	s.On(StreamCancelEvent, func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
		var key string
		if args.Decode(0, &key) == nil && strings.Contains(key, "#") {
			s.Leave(key)
		}
	})
	s.OnUnhandled(func(s *socketio.Socket, event string, _ socketio.Args, ack socketio.Ack) {
		if ack != nil && isMethodEvent(event) {
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
