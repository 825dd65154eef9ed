package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio"
)

// Events of per-call streams (PROTOCOL.md, version 2). The same names
// travel both ways; each side handles those its peer sends.
const (
	// CallMessageEvent carries (id, message bytes): one message of a stream.
	CallMessageEvent = "sio:call:msg"
	// CallCloseEvent carries (id) from a caller that has sent its last
	// message (a half-close).
	CallCloseEvent = "sio:call:close"
	// CallCreditEvent carries (id, bytes): flow-control credit given back.
	CallCreditEvent = "sio:call:credit"
	// CallEndEvent carries (id, status or null, trailers or null) from
	// the server: the stream is over.
	CallEndEvent = "sio:call:end"
)

// openReply is the ack of a per-call stream the server accepted.
type openReply struct {
	Window int64 `json:"window"`
}

// serverStream is the server's side of one per-call stream.
type serverStream struct {
	c        *call
	recv     *recvQueue  // the caller's messages (client and bidi streams)
	send     *sendCredit // what the caller will take
	done     atomic.Bool // the end has been sent
	mu       sync.Mutex  // guards trailers
	trailers map[string]string
	// Messages received from the caller and sent to it (StreamMessages).
	received, sent atomic.Int64
}

type streamKey struct{}

// StreamMessages reports how many messages the per-call stream whose
// handler context is ctx has received from its caller and sent to it so
// far: what a metrics interceptor (WithStreamInterceptors) reads when the
// stream ends. ok is false outside a per-call stream.
func StreamMessages(ctx context.Context) (received, sent int64, ok bool) {
	st, _ := ctx.Value(streamKey{}).(*serverStream)
	if st == nil {
		return 0, 0, false
	}
	return st.received.Load(), st.sent.Load(), true
}

// errStreamEnded is what Send and Receive report once the stream is over.
var errStreamEnded = Errorf(CodeCanceled, "the stream has ended")

func newServerStream(c *call, resumable bool) *serverStream {
	st := &serverStream{
		c:    c,
		recv: newRecvQueue(DefaultStreamWindow),
		send: newSendCredit(c.meta.window),
	}
	if resumable {
		st.send.keepLog()
	}
	return st
}

// endAckTimeout is how long the server keeps the end of a stream for a
// caller that does not acknowledge it (one that cannot resume streams).
const endAckTimeout = 30 * time.Second

// end sends the stream's end with err's status (nil: a clean end) and
// its trailers, once; what comes later is ignored. A resumable stream's
// end is kept until the caller acknowledges it, so that an end lost with
// the connection is sent again after the session's recovery.
func (st *serverStream) end(err error) {
	if !st.done.CompareAndSwap(false, true) {
		return
	}
	var status any
	if err != nil {
		status = statusOf(err)
	}
	st.mu.Lock()
	trailers := maps.Clone(st.trailers)
	st.mu.Unlock()
	id := st.c.meta.id
	calls := st.c.calls
	resumable := calls.keepEnded(st)
	_ = st.send.last(func() error {
		s := st.c.socket()
		if !resumable {
			return lostIfDisconnected(s.Emit(CallEndEvent, id, status, trailers))
		}
		return lostIfDisconnected(s.EmitWithAckFunc(CallEndEvent, endAckTimeout, func(_ socketio.Args, err error) {
			if !errors.Is(err, socketio.ErrDisconnected) {
				calls.forgetEnded(st) // acknowledged, or never will be
			}
		}, id, status, trailers))
	})
	st.recv.finish(errStreamEnded)
	st.send.end(errStreamEnded)
}

// fail ends the stream with err at once (the caller broke its flow
// control, say) and ends the handler's context.
func (st *serverStream) fail(err error) {
	st.end(err)
	st.c.ctx.end()
}

// receive returns the caller's next message, io.EOF after its half-close.
func (st *serverStream) receive(ctx context.Context) ([]byte, error) {
	b, grant, err := st.recv.pop(ctx)
	if err != nil {
		return nil, err
	}
	st.received.Add(1)
	if grant > 0 {
		_ = st.c.socket().Emit(CallCreditEvent, st.c.meta.id, grant)
	}
	return b, nil
}

// sendMsg sends msg to the caller, waiting for credit.
func (st *serverStream) sendMsg(ctx context.Context, msg proto.Message) error {
	b, err := marshalArg(msg)
	if err != nil {
		return err
	}
	if limit := maxResponseBytes(st.c.socket()); limit > 0 && int64(len(b)) > limit {
		st.c.h.cfg.logger.Warn("rpc: stream message too big to send", "method", st.c.h.event, "socket", st.c.socket().ID(), "bytes", len(b), "limit", limit)
		return Errorf(CodeResourceExhausted, "the message is %d bytes, over the limit of %d", len(b), limit)
	}
	if err := st.send.send(ctx, b, st.write); err != nil {
		if ctx.Err() != nil {
			return NewError(CodeOf(ctx.Err()), ctx.Err())
		}
		if errors.Is(err, socketio.ErrDisconnected) {
			return NewError(CodeUnavailable, err)
		}
		return err
	}
	st.sent.Add(1)
	return nil
}

// write writes one message to the caller's current socket.
func (st *serverStream) write(b []byte) error {
	return lostIfDisconnected(st.c.socket().Emit(CallMessageEvent, st.c.meta.id, b))
}

// lostIfDisconnected maps the socket's "disconnected" to errConnectionLost.
func lostIfDisconnected(err error) error {
	if errors.Is(err, socketio.ErrDisconnected) {
		return fmt.Errorf("%w: %w", errConnectionLost, err)
	}
	return err
}

func (st *serverStream) trailer() map[string]string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.trailers == nil {
		st.trailers = map[string]string{}
	}
	return st.trailers
}

// ClientStream is the requests of a client-streaming call, as its handler
// reads them: for stream.Receive() { use(stream.Msg()) }, then
// stream.Err(). Receive waits for the caller's next message; it returns
// false after the caller's last one (Err is nil) or on failure.
type ClientStream[Req proto.Message] struct {
	st  *serverStream
	ctx context.Context
	msg Req
	err error
}

// Receive reads the next request, waiting for it. It returns false once
// the caller has sent its last (Err then returns nil), or on failure.
func (s *ClientStream[Req]) Receive() bool {
	if s.err != nil {
		return false
	}
	b, err := s.st.receive(s.ctx)
	if err != nil {
		if err != io.EOF {
			s.err = streamErr(s.ctx, err)
		}
		var zero Req
		s.msg = zero
		return false
	}
	s.msg = newMessage[Req]()
	if err := proto.Unmarshal(b, s.msg); err != nil {
		s.err = Errorf(CodeInvalidArgument, "request does not decode: %v", err)
		return false
	}
	return true
}

// Msg returns the request Receive read.
func (s *ClientStream[Req]) Msg() Req { return s.msg }

// Err returns what ended the requests, nil if the caller finished them.
func (s *ClientStream[Req]) Err() error { return s.err }

// RequestHeader returns the call's metadata, sent when it opened.
func (s *ClientStream[Req]) RequestHeader() map[string]string { return s.st.c.meta.headers }

// ResponseTrailer returns the trailers sent with the end of the call; the
// handler may add to them until it returns.
func (s *ClientStream[Req]) ResponseTrailer() map[string]string { return s.st.trailer() }

// BidiStream is a bidirectional call as its handler sees it: Receive
// reads the caller's messages (io.EOF after its last), Send sends
// responses, both honouring the call's context. Receive and Send may run
// on different goroutines.
type BidiStream[Req, Res proto.Message] struct {
	st  *serverStream
	ctx context.Context
}

// Receive waits for the caller's next message; it returns io.EOF once the
// caller has sent its last.
func (s *BidiStream[Req, Res]) Receive() (Req, error) {
	var zero Req
	b, err := s.st.receive(s.ctx)
	if err != nil {
		if err == io.EOF {
			return zero, io.EOF
		}
		return zero, streamErr(s.ctx, err)
	}
	req := newMessage[Req]()
	if err := proto.Unmarshal(b, req); err != nil {
		return zero, Errorf(CodeInvalidArgument, "request does not decode: %v", err)
	}
	return req, nil
}

// Send sends a response, waiting while the caller's flow-control window
// is full.
func (s *BidiStream[Req, Res]) Send(res Res) error { return s.st.sendMsg(s.ctx, res) }

// RequestHeader returns the call's metadata, sent when it opened.
func (s *BidiStream[Req, Res]) RequestHeader() map[string]string { return s.st.c.meta.headers }

// ResponseTrailer returns the trailers sent with the end of the call; the
// handler may add to them until it returns.
func (s *BidiStream[Req, Res]) ResponseTrailer() map[string]string { return s.st.trailer() }

// ServerStream is the responses of a per-call server-streaming method, as
// its handler sends them to its one caller.
type ServerStream[Res proto.Message] struct {
	st  *serverStream
	ctx context.Context
}

// Send sends a response, waiting while the caller's flow-control window
// is full.
func (s *ServerStream[Res]) Send(res Res) error { return s.st.sendMsg(s.ctx, res) }

// ResponseTrailer returns the trailers sent with the end of the call; the
// handler may add to them until it returns.
func (s *ServerStream[Res]) ResponseTrailer() map[string]string { return s.st.trailer() }

// streamErr maps what ended a Receive to a status: the context's end as
// canceled or deadline_exceeded, a stream failure as itself.
func streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return NewError(CodeOf(ctx.Err()), ctx.Err())
	}
	return err
}

// NewClientStreamHandler serves a client-streaming method: fn reads the
// caller's messages from the stream and returns one response.
func NewClientStreamHandler[Req, Res proto.Message](event string, fn func(context.Context, *ClientStream[Req]) (Res, error), opts ...HandlerOption) *Handler {
	return &Handler{event: event, kind: kindClientStream, cfg: newHandlerConfig(opts), serveStream: func(ctx context.Context, st *serverStream, _ []byte) error {
		res, err := fn(ctx, &ClientStream[Req]{st: st, ctx: ctx})
		if err != nil {
			return err
		}
		return st.sendMsg(ctx, res)
	}}
}

// NewBidiStreamHandler serves a bidirectional method: fn reads the
// caller's messages and sends responses until it returns; its error, or
// nil, ends the call.
func NewBidiStreamHandler[Req, Res proto.Message](event string, fn func(context.Context, *BidiStream[Req, Res]) error, opts ...HandlerOption) *Handler {
	return &Handler{event: event, kind: kindBidiStream, cfg: newHandlerConfig(opts), serveStream: func(ctx context.Context, st *serverStream, _ []byte) error {
		return fn(ctx, &BidiStream[Req, Res]{st: st, ctx: ctx})
	}}
}

// NewCallServerStreamHandler serves a server-streaming method as a stream
// of its own to its one caller, as gRPC does: fn sends the responses and
// returns; its error, or nil, ends the call. (NewServerStreamHandler
// serves one as a room subscription instead.)
func NewCallServerStreamHandler[Req, Res proto.Message](event string, fn func(context.Context, Req, *ServerStream[Res]) error, opts ...HandlerOption) *Handler {
	return &Handler{event: event, kind: kindCallServerStream, cfg: newHandlerConfig(opts), serveStream: func(ctx context.Context, st *serverStream, data []byte) error {
		req := newMessage[Req]()
		if err := proto.Unmarshal(data, req); err != nil {
			return Errorf(CodeInvalidArgument, "request does not decode: %v", err)
		}
		return fn(ctx, req, &ServerStream[Res]{st: st, ctx: ctx})
	}}
}

// onStreamMessage queues a caller's message on its stream; one sent
// beyond the stream's window fails the stream (only it).
func (ns *nspState) onStreamMessage(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
	st := ns.streamOf(s, args)
	if st == nil {
		return
	}
	b, ok := args.Bytes(1)
	if !ok {
		st.fail(Errorf(CodeInvalidArgument, "a stream message must be a binary attachment (argument 1)"))
		return
	}
	if err := st.recv.push(b); err != nil {
		ns.logger.Debug("rpc: stream message beyond the window", "method", st.c.h.event, "socket", s.ID())
		st.fail(err)
	}
}

// onStreamClose records the caller's half-close.
func (ns *nspState) onStreamClose(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
	if st := ns.streamOf(s, args); st != nil {
		st.recv.closedByPeer()
	}
}

// onStreamCredit gives the server's sender the caller's credit.
func (ns *nspState) onStreamCredit(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
	var n int64
	if st := ns.streamOf(s, args); st != nil && args.Decode(1, &n) == nil {
		st.send.grant(n)
	}
}

// streamOf finds the open stream that args' first argument names.
func (ns *nspState) streamOf(s *socketio.Socket, args socketio.Args) *serverStream {
	id, ok := streamID(args)
	if !ok {
		return nil
	}
	v, ok := ns.server.sockets.Load(s)
	if !ok {
		return nil
	}
	return v.(*socketCalls).stream(id)
}

// streamID reads a stream event's first argument, the call id: without
// reflection for the plain ids the generated clients send (a counter),
// with the JSON decoder otherwise.
func streamID(args socketio.Args) (string, bool) {
	raw := args.Raw(0)
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && isPlainID(raw[1:n-1]) {
		return string(raw[1 : n-1]), true
	}
	var id string
	return id, args.Decode(0, &id) == nil
}
