package rpc

import (
	"context"
	"io"
	"iter"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// ClientConn carries typed calls over a client socket connected to the
// service's namespace. Generated clients are built on one; several may
// share it. It is safe for concurrent use.
type ClientConn struct {
	s      *sioclient.Socket
	once   sync.Once
	router *streamRouter
}

// NewClientConn returns a ClientConn over s.
func NewClientConn(s *sioclient.Socket) *ClientConn { return &ClientConn{s: s} }

// Socket returns the underlying socket.
func (c *ClientConn) Socket() *sioclient.Socket { return c.s }

func (c *ClientConn) streams() *streamRouter {
	c.once.Do(func() { c.router = newStreamRouter(c.s) })
	return c.router
}

// CallUnary calls a unary method and waits for the answer until ctx is
// done. The context's deadline travels with the call, so the server's
// handler stops at the same moment; an answer that does not come in time
// is CodeDeadlineExceeded.
func CallUnary[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message) (Res, error) {
	var zero Res
	b, err := marshalArg(req)
	if err != nil {
		return zero, err
	}
	args, err := c.s.EmitWithAck(ctx, event, b, metaFor(ctx))
	if err != nil {
		return zero, callError(ctx, err)
	}
	return decodeReply[Res](args)
}

// maxStreamBacklog bounds the messages a Stream holds for a slow reader;
// past it the stream ends with CodeResourceExhausted rather than stall
// the connection or grow without bound.
const maxStreamBacklog = 1024

// Stream receives the messages of a server-streaming method.
type Stream[Res proto.Message] struct {
	r   *streamRouter
	key string

	// mu guards the fields below; cond signals Recv.
	mu      sync.Mutex
	cond    *sync.Cond
	backlog [][]byte
	err     error // io.EOF after a clean end
	closed  bool
}

// Subscribe calls a server-streaming method: the server puts the socket in
// the method's room for the request, and every message published there
// arrives on the returned Stream until it ends or is closed.
func Subscribe[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message) (*Stream[Res], error) {
	b, err := marshalArg(req)
	if err != nil {
		return nil, err
	}
	r := c.streams()
	r.pendingAdd(1)
	defer r.pendingAdd(-1)
	args, err := c.s.EmitWithAck(ctx, event, b, metaFor(ctx))
	if err != nil {
		return nil, callError(ctx, err)
	}
	var reply subscribeReply
	if args.Decode(0, &reply) != nil || reply.Stream == "" {
		return nil, decodeStatus(args)
	}
	st := &Stream[Res]{r: r, key: reply.Stream}
	st.cond = sync.NewCond(&st.mu)
	r.attach(reply.Stream, st)
	return st, nil
}

// Recv returns the next message; io.EOF when the server ended the stream
// cleanly, its *Error when it ended with a status.
func (st *Stream[Res]) Recv() (Res, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.backlog) == 0 && st.err == nil {
		st.cond.Wait()
	}
	var zero Res
	if len(st.backlog) == 0 {
		return zero, st.err
	}
	b := st.backlog[0]
	st.backlog = st.backlog[1:]
	res := newMessage[Res]()
	if err := proto.Unmarshal(b, res); err != nil {
		return zero, NewError(CodeInternal, err)
	}
	return res, nil
}

// All iterates over the messages until the stream ends; a clean end stops
// the iteration without an error. Breaking out of the loop closes the
// stream.
func (st *Stream[Res]) All() iter.Seq2[Res, error] {
	return func(yield func(Res, error) bool) {
		for {
			m, err := st.Recv()
			if err == io.EOF {
				return
			}
			if !yield(m, err) || err != nil {
				st.Close()
				return
			}
		}
	}
}

// Close leaves the stream: the server takes the socket out of the room.
func (st *Stream[Res]) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	if st.err == nil {
		st.err = Errorf(CodeCanceled, "stream closed")
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	st.r.detach(st.key, st)
	return nil
}

func (st *Stream[Res]) deliver(b []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	if len(st.backlog) >= maxStreamBacklog {
		st.err = Errorf(CodeResourceExhausted, "stream reader fell %d messages behind", maxStreamBacklog)
		st.cond.Broadcast()
		go st.Close()
		return
	}
	st.backlog = append(st.backlog, b)
	st.cond.Signal()
}

func (st *Stream[Res]) end(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil {
		st.err = err
	}
	st.cond.Broadcast()
}

// subscriber is a Stream of any message type, as the router sees it.
type subscriber interface {
	deliver(b []byte)
	end(err error)
}

// streamRouter dispatches a client socket's stream events to its Streams.
// Several Streams may share a key (the same room twice); the socket leaves
// the room when the last one closes.
type streamRouter struct {
	s *sioclient.Socket

	// mu guards subs, early and pending.
	mu      sync.Mutex
	subs    map[string][]subscriber
	early   map[string][][]byte // messages that beat their subscription's ack
	pending int                 // subscriptions awaiting their ack
}

func newStreamRouter(s *sioclient.Socket) *streamRouter {
	r := &streamRouter{s: s, subs: map[string][]subscriber{}, early: map[string][][]byte{}}
	s.On(StreamMessageEvent, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var key string
		b, ok := args.Bytes(1)
		if args.Decode(0, &key) != nil || !ok {
			return
		}
		r.onMessage(key, b)
	})
	s.On(StreamEndEvent, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var key string
		if args.Decode(0, &key) != nil {
			return
		}
		var w *wireStatus
		_ = args.Decode(1, &w)
		var err error = io.EOF
		if w != nil && w.Code != "" {
			err = errorOf(*w)
		}
		r.onEnd(key, err)
	})
	s.OnDisconnect(func(_ *sioclient.Socket, reason sioclient.Reason) {
		r.endAll(Errorf(CodeUnavailable, "disconnected: %s", reason))
	})
	return r
}

func (r *streamRouter) pendingAdd(n int) {
	r.mu.Lock()
	r.pending += n
	if r.pending == 0 {
		clear(r.early)
	}
	r.mu.Unlock()
}

func (r *streamRouter) onMessage(key string, b []byte) {
	r.mu.Lock()
	subs := r.subs[key]
	if len(subs) == 0 && r.pending > 0 && len(r.early[key]) < maxStreamBacklog {
		r.early[key] = append(r.early[key], b)
	}
	r.mu.Unlock()
	for _, sub := range subs {
		sub.deliver(b)
	}
}

func (r *streamRouter) onEnd(key string, err error) {
	r.mu.Lock()
	subs := r.subs[key]
	delete(r.subs, key)
	r.mu.Unlock()
	for _, sub := range subs {
		sub.end(err)
	}
}

func (r *streamRouter) endAll(err error) {
	r.mu.Lock()
	all := r.subs
	r.subs = map[string][]subscriber{}
	r.mu.Unlock()
	for _, subs := range all {
		for _, sub := range subs {
			sub.end(err)
		}
	}
}

func (r *streamRouter) attach(key string, sub subscriber) {
	r.mu.Lock()
	r.subs[key] = append(r.subs[key], sub)
	early := r.early[key]
	delete(r.early, key)
	r.mu.Unlock()
	for _, b := range early {
		sub.deliver(b)
	}
}

func (r *streamRouter) detach(key string, sub subscriber) {
	r.mu.Lock()
	subs := r.subs[key]
	for i, x := range subs {
		if x == sub {
			subs = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	last := len(subs) == 0
	if last {
		delete(r.subs, key)
	} else {
		r.subs[key] = subs
	}
	r.mu.Unlock()
	if last {
		_ = r.s.Emit(StreamCancelEvent, key)
	}
}
