package rpc

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// ErrGap is what Stream.Receive returns, once, when the stream was
// subscribed again after a reconnection that did not resume the session:
// messages published while the connection was down are lost. The stream
// goes on; the next Receive returns the messages that follow.
var ErrGap = errors.New("rpc: the stream was subscribed again after a lost connection; messages sent meanwhile are lost")

// streamItem is a message in a Stream's backlog, or a gap.
type streamItem struct {
	b   []byte
	gap bool
}

// maxStreamBacklog bounds the messages a Stream holds for a slow reader;
// past it the stream ends with CodeResourceExhausted rather than stall
// the connection or grow without bound.
const maxStreamBacklog = 1024

// Stream receives the messages of a server-streaming method. Its methods
// may be called from any goroutine.
//
// A subscription outlives a lost connection. If the socket resumes its
// session (connection state recovery on the server), the messages missed
// meanwhile arrive and nothing is lost. If not, the client subscribes
// again by itself once reconnected, and Receive returns ErrGap once
// (messages published while it was away are lost) before the messages
// that follow. The stream ends with CodeUnavailable only when the socket
// will not reconnect.
type Stream[Res proto.Message] struct {
	r     *streamRouter
	again func(ctx context.Context) (string, error) // subscribes again

	// mu guards the fields below.
	key     string // changes if a subscription again names another room
	mu      sync.Mutex
	backlog []streamItem
	err     error // io.EOF after a clean end
	closed  bool
	// arrived holds a token when backlog may have grown; ended is closed
	// once err is set.
	arrived chan struct{}
	ended   chan struct{}
}

// Subscribe calls a server-streaming method: the server puts the socket in
// the method's room for the request, and every message published there
// arrives on the returned Stream until it ends or is closed. ctx bounds the
// subscription call only, like a unary call's; the stream lives until it
// ends, is closed, or the connection drops (CodeUnavailable).
func Subscribe[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message, opts ...CallOption) (*Stream[Res], error) {
	cfg := newCallConfig(opts)
	ctx, cancel := c.withDeadline(ctx)
	if cancel != nil {
		defer cancel()
	}
	r := c.streams()
	sub := SubscribeFunc(func(ctx context.Context, req proto.Message) (string, error) {
		return c.subscribe1(ctx, r, event, req, cfg)
	})
	if len(c.subscribe) > 0 {
		for i := len(c.subscribe) - 1; i >= 0; i-- {
			sub = c.subscribe[i](sub)
		}
		ctx = context.WithValue(ctx, clientCallKey{}, ClientCallInfo{Event: event, Idempotency: cfg.idempotency})
	}
	r.pendingAdd(1)
	defer r.pendingAdd(-1)
	key, err := sub(ctx, req)
	if err != nil {
		return nil, err
	}
	st := &Stream[Res]{r: r, key: key, arrived: make(chan struct{}, 1), ended: make(chan struct{})}
	st.again = func(ctx context.Context) (string, error) {
		return sub(context.WithValue(ctx, clientCallKey{}, ClientCallInfo{Event: event, Idempotency: cfg.idempotency}), req)
	}
	r.attach(key, st)
	return st, nil
}

// subscribe1 sends a subscription and returns its stream key.
func (c *ClientConn) subscribe1(ctx context.Context, r *streamRouter, event string, req proto.Message, cfg callConfig) (string, error) {
	b, err := marshalArg(req)
	if err != nil {
		return "", err
	}
	args, err := c.roundTrip(ctx, event, b, cfg)
	if err != nil {
		return "", err
	}
	var reply subscribeReply
	if args.Decode(0, &reply) != nil || reply.Stream == "" {
		return "", decodeStatus(args)
	}
	return reply.Stream, nil
}

// Receive returns the next message, waiting for it until ctx is done
// (then ctx's status, the stream staying open); io.EOF when the server
// ended the stream cleanly, its *Error when it ended with a status.
func (st *Stream[Res]) Receive(ctx context.Context) (Res, error) {
	res, err := st.receive(ctx.Done())
	if err == errGaveUp {
		st.mu.Lock()
		key := st.key
		st.mu.Unlock()
		err = gaveUp(ctx, "waiting for a message of "+key)
	}
	return res, err
}

// Recv is Receive without a context: it waits until a message comes or
// the stream ends.
func (st *Stream[Res]) Recv() (Res, error) { return st.receive(nil) }

// errGaveUp tells Receive that its context ended.
var errGaveUp = errors.New("gave up")

func (st *Stream[Res]) receive(done <-chan struct{}) (Res, error) {
	var zero Res
	for {
		st.mu.Lock()
		if len(st.backlog) > 0 {
			item := st.backlog[0]
			st.backlog[0] = streamItem{}
			st.backlog = st.backlog[1:]
			more := len(st.backlog) > 0
			st.mu.Unlock()
			if more {
				st.signal() // another reader may take the next one
			}
			if item.gap {
				return zero, ErrGap
			}
			b := item.b
			res := newMessage[Res]()
			if err := proto.Unmarshal(b, res); err != nil {
				return zero, NewError(CodeInternal, err)
			}
			return res, nil
		}
		if st.err != nil {
			err := st.err
			st.mu.Unlock()
			return zero, err
		}
		st.mu.Unlock()
		select {
		case <-st.arrived:
		case <-st.ended:
		case <-done:
			return zero, errGaveUp
		}
	}
}

func (st *Stream[Res]) signal() {
	select {
	case st.arrived <- struct{}{}:
	default:
	}
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
			if !yield(m, err) || (err != nil && err != ErrGap) {
				st.Close()
				return
			}
		}
	}
}

// Close leaves the stream at once: it stops delivering, and the server is
// told to take the socket out of the room (if the socket is connected;
// otherwise the server's socket is gone already).
func (st *Stream[Res]) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	st.setErrLocked(Errorf(CodeCanceled, "stream closed"))
	st.backlog = nil
	key := st.key
	st.mu.Unlock()
	st.r.detach(key, st)
	return nil
}

// setErrLocked ends the stream with err unless it has ended.
func (st *Stream[Res]) setErrLocked(err error) {
	if st.err == nil {
		st.err = err
		close(st.ended)
	}
}

func (st *Stream[Res]) deliver(b []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	if len(st.backlog) >= maxStreamBacklog {
		st.setErrLocked(Errorf(CodeResourceExhausted, "stream reader fell %d messages behind", maxStreamBacklog))
		go st.Close()
		return
	}
	st.backlog = append(st.backlog, streamItem{b: b})
	st.signal()
}

// resubscribe marks the gap a reconnection without the session left, and
// subscribes again; a refusal ends the stream.
func (st *Stream[Res]) resubscribe(ctx context.Context) {
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		return
	}
	st.backlog = append(st.backlog, streamItem{gap: true})
	st.signal()
	st.mu.Unlock()
	key, err := st.again(WithWaitForReady(ctx))
	if err != nil {
		st.end(err)
		return
	}
	st.mu.Lock()
	moved := key != st.key
	old := st.key
	st.key = key
	st.mu.Unlock()
	if moved {
		st.r.move(old, key, st)
	}
}

func (st *Stream[Res]) end(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setErrLocked(err)
}

// subscriber is a Stream of any message type, as the router sees it.
type subscriber interface {
	deliver(b []byte)
	end(err error)
	resubscribe(ctx context.Context)
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
		// Streams wait for the reconnection, unless there will be none.
		if reason == sioclient.ReasonServerDisconnect || reason == sioclient.ReasonClientDisconnect || !s.Manager().Reconnects() {
			r.endAll(Errorf(CodeUnavailable, "disconnected: %s", reason))
		}
	})
	s.Manager().OnReconnectFailed(func() {
		r.endAll(Errorf(CodeUnavailable, "disconnected, and reconnecting failed"))
	})
	s.OnConnect(func(s *sioclient.Socket) {
		if s.Recovered() {
			return // the server kept the rooms and sends what was missed
		}
		// The streams stay attached under their keys, so that messages
		// that beat the new subscription's ack are kept.
		r.mu.Lock()
		var all []subscriber
		for _, subs := range r.subs {
			all = append(all, subs...)
		}
		r.mu.Unlock()
		for _, sub := range all {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultCallTimeout) //sio:root-context: a stream outlives the call that opened it
				defer cancel()
				sub.resubscribe(ctx)
			}()
		}
	})
	return r
}

// move files sub under its new key after a subscription again.
func (r *streamRouter) move(old, key string, sub subscriber) {
	r.detachQuietly(old, sub)
	r.attach(key, sub)
}

// detachQuietly forgets sub under key without telling the server.
func (r *streamRouter) detachQuietly(key string, sub subscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	subs := r.subs[key]
	for i, x := range subs {
		if x == sub {
			r.subs[key] = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	if len(r.subs[key]) == 0 {
		delete(r.subs, key)
	}
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
	found := false
	for i, x := range subs {
		if x == sub {
			subs = append(subs[:i:i], subs[i+1:]...)
			found = true
			break
		}
	}
	last := found && len(subs) == 0
	if last {
		delete(r.subs, key)
	} else if found {
		r.subs[key] = subs
	}
	r.mu.Unlock()
	if last {
		// Not buffered: after a reconnection the server's socket, and its
		// rooms, are new.
		_ = r.s.TryEmit(StreamCancelEvent, key)
	}
}
