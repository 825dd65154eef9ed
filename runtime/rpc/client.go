package rpc

import (
	"context"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// DefaultCallTimeout is the deadline of a call whose context has none,
// when the ClientConn has no default of its own (WithDefaultTimeout).
const DefaultCallTimeout = 30 * time.Second

// ClientConn carries typed calls over a client socket connected to the
// service's namespace. Generated clients are built on one; several may
// share it. Create one per socket: each watches the socket's connection
// for as long as the socket lives. It is safe for concurrent use.
//
// Every call has a deadline (its context's, else the ClientConn's
// default, else DefaultCallTimeout) and settles by then with a status.
// A call is sent only on a live connection, never buffered for a later
// one: made while the socket is not connected it fails at once with
// CodeUnavailable, unless its context asks to wait (WithWaitForReady).
// A call whose caller gives up is cancelled on the server (CancelEvent).
// A call in flight when the connection drops fails with CodeUnavailable,
// its outcome unknown, except that methods without side effects
// (IdempotencyNoSideEffects, IdempotencyIdempotent) are sent again once
// the socket reconnects, within their deadline.
type ClientConn struct {
	s         *sioclient.Socket
	timeout   time.Duration
	unary     []UnaryInterceptor
	subscribe []SubscribeInterceptor
	stream    []StreamInterceptor

	once   sync.Once
	router *streamRouter

	callsOnce  sync.Once
	callRouter *callRouter

	// mu guards refused and changed, so that a caller waiting for the
	// connection cannot miss a change.
	mu      sync.Mutex
	refused *Error        // the namespace's last refusal, until a connect
	changed chan struct{} // closed (and replaced) when the state changes
}

// ClientOption configures a ClientConn. Options are created by the With
// functions of this package.
type ClientOption interface{ applyClient(*ClientConn) }

type clientOptionFunc func(*ClientConn)

func (f clientOptionFunc) applyClient(c *ClientConn) { f(c) }

// WithDefaultTimeout sets the deadline of calls whose context has none.
// Default DefaultCallTimeout.
func WithDefaultTimeout(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *ClientConn) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithClientInterceptors adds unary interceptors to the client's calls;
// the first is outermost. They see the call's context (its deadline, its
// headers through OutgoingHeaders, and ClientCallInfoFromContext) and may
// change it, and see and may change the response and error.
func WithClientInterceptors(i ...UnaryInterceptor) ClientOption {
	return clientOptionFunc(func(c *ClientConn) { c.unary = append(c.unary, i...) })
}

// WithClientSubscribeInterceptors adds interceptors to the client's
// stream subscriptions; the first is outermost. The room they see is the
// stream's key.
func WithClientSubscribeInterceptors(i ...SubscribeInterceptor) ClientOption {
	return clientOptionFunc(func(c *ClientConn) { c.subscribe = append(c.subscribe, i...) })
}

// WithClientStreamInterceptors adds interceptors of the opening of
// per-call streams (client, bidirectional and per-call server streams);
// the first is outermost. They see the context the stream opens with
// (ClientCallInfoFromContext, OutgoingHeaders), may change it (add
// headers, a deadline), refuse the stream by returning an error, and see
// whether it opened.
func WithClientStreamInterceptors(i ...StreamInterceptor) ClientOption {
	return clientOptionFunc(func(c *ClientConn) { c.stream = append(c.stream, i...) })
}

// NewClientConn returns a ClientConn over s.
func NewClientConn(s *sioclient.Socket, opts ...ClientOption) *ClientConn {
	c := &ClientConn{s: s, timeout: DefaultCallTimeout, changed: make(chan struct{})}
	for _, o := range opts {
		o.applyClient(c)
	}
	s.OnConnect(func(*sioclient.Socket) { c.stateChanged(nil, true) })
	s.OnDisconnect(func(*sioclient.Socket, sioclient.Reason) { c.stateChanged(nil, false) })
	s.OnConnectError(func(_ *sioclient.Socket, err error) {
		if ce, ok := err.(*sioclient.ConnectError); ok {
			c.stateChanged(refusalError(ce), false)
		}
	})
	return c
}

// Socket returns the underlying socket.
func (c *ClientConn) Socket() *sioclient.Socket { return c.s }

func (c *ClientConn) streams() *streamRouter {
	c.once.Do(func() { c.router = newStreamRouter(c.s) })
	return c.router
}

// stateChanged records a connection, disconnection or refusal and wakes
// the callers waiting for the connection.
func (c *ClientConn) stateChanged(refused *Error, connected bool) {
	c.mu.Lock()
	if connected {
		c.refused = nil
	} else if refused != nil {
		c.refused = refused
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// notConnected is the error of a call made while the socket is not
// connected: the namespace's refusal if it refused the socket.
func (c *ClientConn) notConnected() *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused != nil {
		return c.refused
	}
	return Errorf(CodeUnavailable, "not connected to namespace %s", c.s.Namespace())
}

// waitReady waits until the socket is connected, the namespace refuses
// it, or ctx is done; where says what the call was waiting for.
func (c *ClientConn) waitReady(ctx context.Context, where string) error {
	for {
		c.mu.Lock()
		if c.s.Connected() {
			c.mu.Unlock()
			return nil
		}
		if c.refused != nil {
			err := c.refused
			c.mu.Unlock()
			return err
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return gaveUp(ctx, where)
		}
	}
}

// withDeadline gives ctx the default deadline if it has none.
func (c *ClientConn) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, nil
	}
	return context.WithTimeout(ctx, c.timeout)
}
