package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// callStream is the client's side of one per-call stream.
type callStream struct {
	c     *ClientConn
	id    string
	event string
	ctx   context.Context // the stream's life: the caller's context
	recv  *recvQueue      // the server's messages
	send  *sendCredit     // what the server will take

	mu       sync.Mutex
	trailers map[string]string
	ended    bool
	stop     func() bool // unregisters the context watch
}

// callRouter hands the per-call stream events of one socket to their
// streams.
type callRouter struct {
	mu     sync.Mutex
	open   map[string]*callStream
	losses int // connections lost so far
}

func newCallRouter(s *sioclient.Socket) *callRouter {
	r := &callRouter{open: map[string]*callStream{}}
	s.On(CallMessageEvent, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		st := r.lookup(args)
		if st == nil {
			return
		}
		b, ok := args.Bytes(1)
		if !ok {
			st.fail(Errorf(CodeInternal, "a stream message from the server is not binary"), true)
			return
		}
		if err := st.recv.push(b); err != nil {
			st.fail(err, true)
		}
	})
	s.On(CallCreditEvent, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var n int64
		if st := r.lookup(args); st != nil && args.Decode(1, &n) == nil {
			st.send.grant(n)
		}
	})
	s.On(CallEndEvent, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		st := r.lookup(args)
		if ack != nil {
			_ = ack() // the server may forget the stream now
		}
		if st == nil {
			return
		}
		var trailers map[string]string
		_ = args.Decode(2, &trailers)
		var err error = io.EOF
		if string(args.Raw(1)) != "null" {
			var w wireStatus
			if args.Decode(1, &w) != nil || w.Code == "" {
				err = Errorf(CodeInternal, "malformed end of stream: %s", args)
			} else {
				err = errorOf(w)
			}
		}
		st.finish(err, trailers)
	})
	s.OnDisconnect(func(_ *sioclient.Socket, reason sioclient.Reason) {
		// Streams wait for the session's recovery (resume.go), unless
		// there will be no reconnection.
		if reason == sioclient.ReasonServerDisconnect || reason == sioclient.ReasonClientDisconnect || !s.Manager().Reconnects() || !s.Recoverable() {
			r.endAll(Errorf(CodeUnavailable, "the connection was lost (%s)", reason))
			return
		}
		open := r.all()
		for _, st := range open {
			st.recv.hold()
			st.send.pause()
		}
		r.mu.Lock()
		r.losses++
		loss := r.losses
		r.mu.Unlock()
		// A server that stays out of reach has dropped them by then.
		time.AfterFunc(streamResumeWait, func() {
			r.mu.Lock()
			same := r.losses == loss
			r.mu.Unlock()
			if same && !s.Connected() {
				for _, st := range open {
					st.finish(Errorf(CodeUnavailable, "the connection was lost (%s) and not back within %v", reason, streamResumeWait), nil)
				}
			}
		})
	})
	s.Manager().OnReconnectFailed(func() {
		r.endAll(Errorf(CodeUnavailable, "the connection was lost, and reconnecting failed"))
	})
	s.OnConnect(func(s *sioclient.Socket) {
		// The streams the lost connection paused; one opened since is not
		// the server's to resume.
		var open []*callStream
		for _, st := range r.all() {
			if st.send.isPaused() {
				open = append(open, st)
			}
		}
		if len(open) == 0 {
			return
		}
		if !s.Recovered() {
			r.endAll(Errorf(CodeUnavailable, "the connection was lost and the server did not recover the session"))
			return
		}
		go r.resume(s, open)
	})
	return r
}

// streamResumeWait is how long the client keeps a stream whose connection
// is lost while reconnecting: the default MaxDisconnectionDuration of
// connection state recovery, after which a server drops it.
const streamResumeWait = 2 * time.Minute

// all returns the open streams.
func (r *callRouter) all() []*callStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*callStream, 0, len(r.open))
	for _, st := range r.open {
		out = append(out, st)
	}
	return out
}

// endAll ends every open stream with err.
func (r *callRouter) endAll(err error) {
	for _, st := range r.all() {
		st.finish(err, nil)
	}
}

// resume claims the open streams from the server that recovered the
// session: each says what it received, the server answers the same, and
// both write again what the other lacks. A stream the server no longer
// has ends with the status it gives.
func (r *callRouter) resume(s *sioclient.Socket, open []*callStream) {
	claims := make([]resumeState, len(open))
	for i, st := range open {
		received, granted := st.recv.counts()
		claims[i] = resumeState{ID: st.id, Received: received, Granted: granted}
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCallTimeout) //sio:root-context: the streams outlive the calls that opened them
	defer cancel()
	args, err := s.TryEmitWithAck(ctx, CallResumeEvent, claims)
	if errors.Is(err, sioclient.ErrDisconnected) || errors.Is(err, sioclient.ErrNotConnected) {
		return // lost again: the next connection claims them
	}
	var answers []resumeState
	if err == nil && args.Decode(0, &answers) != nil {
		err = Errorf(CodeUnimplemented, "the server does not resume streams: %s", args)
	}
	if err != nil {
		r.endAll(Errorf(CodeUnavailable, "resuming the streams after a reconnection: %v", err))
		return
	}
	byID := make(map[string]resumeState, len(answers))
	for _, a := range answers {
		byID[a.ID] = a
	}
	for _, st := range open {
		a, ok := byID[st.id]
		switch {
		case !ok:
			st.finish(Errorf(CodeUnavailable, "the server did not resume %s", st.event), nil)
		case a.Status != nil:
			st.finish(errorOf(*a.Status), nil)
		case !st.send.resume(a.Received, a.Granted, st.write):
			st.fail(Errorf(CodeDataLoss, "the server claims fewer messages of %s than it acknowledged", st.event), true)
		default:
			if grant := st.recv.release(); grant > 0 {
				_ = s.TryEmit(CallCreditEvent, st.id, grant)
			}
		}
	}
}

func (r *callRouter) lookup(args sioclient.Args) *callStream {
	var id string
	if args.Decode(0, &id) != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open[id]
}

func (r *callRouter) add(st *callStream) {
	r.mu.Lock()
	r.open[st.id] = st
	r.mu.Unlock()
}

func (r *callRouter) remove(st *callStream) {
	r.mu.Lock()
	if r.open[st.id] == st {
		delete(r.open, st.id)
	}
	r.mu.Unlock()
}

func (c *ClientConn) calls() *callRouter {
	c.callsOnce.Do(func() { c.callRouter = newCallRouter(c.s) })
	return c.callRouter
}

// openStream opens a per-call stream of event, with req as its request
// (nil for client and bidirectional streams). It waits for the server to
// accept it, as long as ctx allows; from then on ctx is the stream's life.
func (c *ClientConn) openStream(ctx context.Context, event string, req proto.Message) (*callStream, error) {
	if len(c.stream) == 0 {
		return c.openStream1(ctx, event, req)
	}
	var st *callStream
	open := StreamFunc(func(ctx context.Context) (err error) {
		st, err = c.openStream1(ctx, event, req)
		return err
	})
	for i := len(c.stream) - 1; i >= 0; i-- {
		open = c.stream[i](open)
	}
	if err := open(context.WithValue(ctx, clientCallKey{}, ClientCallInfo{Event: event})); err != nil {
		if st != nil {
			st.fail(Errorf(CodeCanceled, "a client interceptor refused %s", event), true)
		}
		return nil, err
	}
	if st == nil {
		return nil, Errorf(CodeInternal, "a client interceptor of %s returned without opening it", event)
	}
	return st, nil
}

func (c *ClientConn) openStream1(ctx context.Context, event string, req proto.Message) (*callStream, error) {
	var first any
	if req != nil {
		b, err := marshalArg(req)
		if err != nil {
			return nil, err
		}
		first = b
	}
	r := c.calls()
	st := &callStream{c: c, event: event, ctx: ctx, recv: newRecvQueue(DefaultStreamWindow), send: newSendCredit(0)}
	st.send.keepLog() // so that it can be resumed, if the server recovers the session
	for {
		if ctx.Err() != nil {
			return nil, gaveUp(ctx, "before "+event+" was opened")
		}
		st.id = strconv.FormatUint(callIDs.Add(1), 10)
		r.add(st) // before the open: the server may answer before its ack
		args, err := c.s.TryEmitWithAck(ctx, event, first, streamMeta(ctx, st.id))
		switch {
		case err == nil:
			var open openReply
			if _, isBinary := args.Bytes(0); !isBinary && args.Decode(0, &open) == nil && open.Window > 0 {
				st.send.open(open.Window)
				stop := context.AfterFunc(ctx, func() { st.gaveUp() })
				st.mu.Lock()
				st.stop = stop
				st.mu.Unlock()
				return st, nil
			}
			r.remove(st)
			if _, isBinary := args.Bytes(0); isBinary {
				return nil, Errorf(CodeInternal, "the server answered the opening of %s as a unary call", event)
			}
			return nil, decodeStatus(args)
		case errors.Is(err, sioclient.ErrNotConnected):
			r.remove(st)
			if !waitsForReady(ctx) {
				return nil, c.notConnected()
			}
			if err := c.waitReady(ctx, "while waiting for the connection to namespace "+c.s.Namespace()); err != nil {
				return nil, err
			}
		case errors.Is(err, sioclient.ErrTooLarge):
			r.remove(st)
			return nil, NewError(CodeResourceExhausted, err)
		case errors.Is(err, sioclient.ErrDisconnected):
			r.remove(st)
			return nil, Errorf(CodeUnavailable, "the connection was lost while %s was being opened", event)
		case ctx.Err() != nil:
			r.remove(st)
			_ = c.s.TryEmit(CancelEvent, st.id, cancelReason(ctx))
			return nil, gaveUp(ctx, "opening "+event)
		default:
			r.remove(st)
			return nil, NewError(CodeInternal, err)
		}
	}
}

// streamMeta is the metadata that opens a per-call stream: its id, the
// window the client grants, the deadline and headers.
func streamMeta(ctx context.Context, id string) json.RawMessage {
	w := wireMeta{ID: id, Window: DefaultStreamWindow, Headers: outgoingHeaders(ctx)}
	if d, ok := ctx.Deadline(); ok {
		ms := math.Max(1, float64(time.Until(d).Milliseconds()))
		w.TimeoutMs = &ms
	}
	b, _ := json.Marshal(w)
	return b
}

// gaveUp ends the stream because its context did: the server is told.
func (st *callStream) gaveUp() {
	if st.finish(gaveUp(st.ctx, "while "+st.event+" was open"), nil) {
		_ = st.c.s.TryEmit(CancelEvent, st.id, cancelReason(st.ctx))
	}
}

// fail ends the stream on the client's side, telling the server if asked.
func (st *callStream) fail(err error, tellServer bool) {
	if st.finish(err, nil) && tellServer {
		_ = st.c.s.TryEmit(CancelEvent, st.id, CodeCanceled.String())
	}
}

// finish records the end of the stream (io.EOF: a clean end), once. It
// reports whether this call ended it.
func (st *callStream) finish(err error, trailers map[string]string) bool {
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return false
	}
	st.ended = true
	st.trailers = trailers
	stop := st.stop
	st.mu.Unlock()
	st.c.calls().remove(st)
	if stop != nil {
		stop()
	}
	st.recv.finish(err)
	if err == io.EOF {
		err = Errorf(CodeFailedPrecondition, "%s has ended", st.event)
	}
	st.send.end(err)
	return true
}

// sendMsg sends one request message, waiting for credit.
func (st *callStream) sendMsg(req proto.Message) error {
	b, err := marshalArg(req)
	if err != nil {
		return err
	}
	switch err := st.send.send(st.ctx, b, st.write); {
	case err == nil:
		return nil
	case errors.Is(err, sioclient.ErrTooLarge):
		return NewError(CodeResourceExhausted, err)
	case errors.Is(err, errConnectionLost):
		return Errorf(CodeUnavailable, "sending on %s: %v", st.event, err)
	default:
		return st.sendErr(err)
	}
}

// write writes one request message on the socket.
func (st *callStream) write(b []byte) error {
	return lostIfNotConnected(st.c.s.TryEmit(CallMessageEvent, st.id, b))
}

// lostIfNotConnected maps the client's "not connected" to errConnectionLost.
func lostIfNotConnected(err error) error {
	if errors.Is(err, sioclient.ErrNotConnected) || errors.Is(err, sioclient.ErrDisconnected) {
		return fmt.Errorf("%w: %w", errConnectionLost, err)
	}
	return err
}

func (st *callStream) sendErr(err error) error {
	if st.ctx.Err() != nil && errors.Is(err, st.ctx.Err()) {
		return gaveUp(st.ctx, "while "+st.event+" was open")
	}
	return err
}

// closeSend tells the server no more messages follow.
func (st *callStream) closeSend() error {
	if err := st.send.last(func() error { return lostIfNotConnected(st.c.s.TryEmit(CallCloseEvent, st.id)) }); err != nil {
		return Errorf(CodeUnavailable, "closing the requests of %s: %v", st.event, err)
	}
	return nil
}

// receive returns the next response bytes; io.EOF after a clean end.
func (st *callStream) receive() ([]byte, error) {
	b, grant, err := st.recv.pop(st.ctx)
	if err != nil {
		if st.ctx.Err() != nil && errors.Is(err, st.ctx.Err()) {
			return nil, gaveUp(st.ctx, "while "+st.event+" was open")
		}
		return nil, err
	}
	if grant > 0 {
		_ = st.c.s.TryEmit(CallCreditEvent, st.id, grant)
	}
	return b, nil
}

func (st *callStream) responseTrailer() map[string]string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.trailers
}

func receiveMsg[Res proto.Message](st *callStream) (Res, error) {
	var zero Res
	b, err := st.receive()
	if err != nil {
		return zero, err
	}
	res := newMessage[Res]()
	if err := proto.Unmarshal(b, res); err != nil {
		st.fail(NewError(CodeInternal, err), true)
		return zero, NewError(CodeInternal, err)
	}
	return res, nil
}

// ClientStreamCall is a client-streaming call in progress: Send the
// requests, then CloseAndReceive the response.
type ClientStreamCall[Req, Res proto.Message] struct{ st *callStream }

// CallClientStream opens a client-streaming call of event. ctx is the
// call's life: its deadline travels to the server and its end cancels
// the call there.
func CallClientStream[Req, Res proto.Message](ctx context.Context, c *ClientConn, event string) (*ClientStreamCall[Req, Res], error) {
	st, err := c.openStream(ctx, event, nil)
	if err != nil {
		return nil, err
	}
	return &ClientStreamCall[Req, Res]{st: st}, nil
}

// Send sends a request, waiting while the server's window is full. After
// the call has ended it fails; CloseAndReceive then has the status.
func (s *ClientStreamCall[Req, Res]) Send(req Req) error { return s.st.sendMsg(req) }

// CloseAndReceive ends the requests and waits for the response.
func (s *ClientStreamCall[Req, Res]) CloseAndReceive() (Res, error) {
	var zero Res
	_ = s.st.closeSend() // if it fails, so does the receive below
	res, err := receiveMsg[Res](s.st)
	if err != nil {
		if err == io.EOF {
			return zero, Errorf(CodeInternal, "%s ended without a response", s.st.event)
		}
		return zero, err
	}
	// The end follows the response; its status is the call's.
	if _, err := s.st.receive(); err != io.EOF {
		if err == nil {
			err = Errorf(CodeInternal, "%s sent more than one response", s.st.event)
		}
		return zero, err
	}
	return res, nil
}

// ResponseTrailer returns the trailers the server sent with the end.
func (s *ClientStreamCall[Req, Res]) ResponseTrailer() map[string]string {
	return s.st.responseTrailer()
}

// BidiStreamCall is a bidirectional call in progress. Send and Receive
// may run on different goroutines.
type BidiStreamCall[Req, Res proto.Message] struct{ st *callStream }

// CallBidiStream opens a bidirectional call of event. ctx is the call's
// life: its deadline travels to the server and its end cancels the call
// there.
func CallBidiStream[Req, Res proto.Message](ctx context.Context, c *ClientConn, event string) (*BidiStreamCall[Req, Res], error) {
	st, err := c.openStream(ctx, event, nil)
	if err != nil {
		return nil, err
	}
	return &BidiStreamCall[Req, Res]{st: st}, nil
}

// Send sends a request, waiting while the server's window is full.
func (s *BidiStreamCall[Req, Res]) Send(req Req) error { return s.st.sendMsg(req) }

// CloseRequest tells the server that no more requests follow.
func (s *BidiStreamCall[Req, Res]) CloseRequest() error { return s.st.closeSend() }

// Receive waits for the next response; it returns io.EOF once the server
// has ended the call cleanly, and the call's status otherwise.
func (s *BidiStreamCall[Req, Res]) Receive() (Res, error) { return receiveMsg[Res](s.st) }

// CloseResponse gives up the call: the server is told, and Receive and
// Send fail with CodeCanceled.
func (s *BidiStreamCall[Req, Res]) CloseResponse() error {
	s.st.fail(Errorf(CodeCanceled, "%s was closed by the client", s.st.event), true)
	return nil
}

// ResponseTrailer returns the trailers the server sent with the end.
func (s *BidiStreamCall[Req, Res]) ResponseTrailer() map[string]string {
	return s.st.responseTrailer()
}

// ServerStreamCall is a per-call server stream in progress.
type ServerStreamCall[Res proto.Message] struct{ st *callStream }

// CallServerStream calls a server-streaming method served as a stream of
// its own (not a room subscription): the responses arrive on the
// returned stream. ctx is the call's life.
func CallServerStream[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message) (*ServerStreamCall[Res], error) {
	st, err := c.openStream(ctx, event, req)
	if err != nil {
		return nil, err
	}
	return &ServerStreamCall[Res]{st: st}, nil
}

// Receive waits for the next response; it returns io.EOF once the server
// has ended the call cleanly, and the call's status otherwise.
func (s *ServerStreamCall[Res]) Receive() (Res, error) { return receiveMsg[Res](s.st) }

// All ranges over the responses; a failure is the last pair's error (a
// clean end yields none).
func (s *ServerStreamCall[Res]) All() iter.Seq2[Res, error] {
	return func(yield func(Res, error) bool) {
		for {
			res, err := s.Receive()
			if err == io.EOF {
				return
			}
			if !yield(res, err) || err != nil {
				return
			}
		}
	}
}

// Close gives up the call; the server is told.
func (s *ServerStreamCall[Res]) Close() error {
	s.st.fail(Errorf(CodeCanceled, "%s was closed by the client", s.st.event), true)
	return nil
}

// ResponseTrailer returns the trailers the server sent with the end.
func (s *ServerStreamCall[Res]) ResponseTrailer() map[string]string {
	return s.st.responseTrailer()
}
