package socketio

import (
	"context"
	"errors"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// ackOf sends event with one argument and ack id 1 on nsp, and returns
// the ack's JSON.
func ackOf(c *rawClient, nsp, event string, arg any) string {
	c.t.Helper()
	p, err := eventPacket(nsp, event, []any{arg})
	if err != nil {
		c.t.Fatal(err)
	}
	p.ID, p.HasID = 1, true
	c.send(p)
	got := c.next()
	if got.Type != siopacket.Ack || got.Namespace != nsp {
		c.t.Fatalf("got %v %s %s, want an ack on %s", got.Type, got.Namespace, got.Data, nsp)
	}
	return string(got.Data)
}

// TestNamespaceHandlersServeEverySocket: a handler installed once on a
// namespace answers every socket, including those of the namespaces a
// dynamic namespace creates, after the socket's own handlers; events with
// no handler anywhere reach the namespace's unhandled-event handlers.
func TestNamespaceHandlersServeEverySocket(t *testing.T) {
	ts := newTestServer(t, nil)
	var own atomic.Int32
	nsp := ts.Of("/")
	nsp.OnConnection(func(s *Socket) {
		s.On("echo", func(*Socket, Args, Ack) { own.Add(1) })
	})
	echo := func(s *Socket, args Args, ack Ack) {
		var v string
		_ = args.Decode(0, &v)
		_ = ack(s.Namespace().Name() + ":" + v)
	}
	if _, err := nsp.Handle("echo", echo); err != nil {
		t.Fatal(err)
	}
	if _, err := nsp.Handle("echo", echo); err == nil {
		t.Fatal("a second handler for the same event was accepted")
	}
	nsp.OnUnhandled(func(s *Socket, event string, _ Args, ack Ack) { _ = ack("unhandled " + event) })
	parent := ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	if _, err := parent.Handle("echo", echo); err != nil {
		t.Fatal(err)
	}
	parent.OnUnhandled(func(s *Socket, event string, _ Args, ack Ack) { _ = ack("child unhandled " + event) })

	for range 2 {
		c := ts.dial(t)
		c.connect("/", "")
		c.connect("/room-1", "")
		if got := ackOf(c, "/", "echo", "a"); got != `["/:a"]` {
			t.Errorf("echo on /: %s", got)
		}
		if got := ackOf(c, "/room-1", "echo", "b"); got != `["/room-1:b"]` {
			t.Errorf("echo on a child: %s", got)
		}
		if got := ackOf(c, "/", "nobody", 1); got != `["unhandled nobody"]` {
			t.Errorf("unhandled on /: %s", got)
		}
		if got := ackOf(c, "/room-1", "nobody", 1); got != `["child unhandled nobody"]` {
			t.Errorf("unhandled on a child: %s", got)
		}
	}
	if got := own.Load(); got != 2 {
		t.Errorf("the sockets' own handlers ran %d times, want 2", got)
	}

	remove, err := nsp.Handle("once", echo)
	if err != nil {
		t.Fatal(err)
	}
	remove()
	c := ts.dial(t)
	c.connect("/", "")
	if got := ackOf(c, "/", "once", 1); got != `["unhandled once"]` {
		t.Errorf("a removed handler still answers: %s", got)
	}
	if _, err := nsp.Handle("once", echo); err != nil {
		t.Errorf("installing a removed event again: %v", err)
	}
}

// TestSocketContextEndsAtDisconnect: the context ends when the socket
// leaves, with the reason as its cause, and one asked for afterwards is
// already over.
func TestSocketContextEndsAtDisconnect(t *testing.T) {
	ts := newTestServer(t, nil)
	ctxs := make(chan context.Context, 1)
	gone := make(chan *Socket, 1)
	ts.OnConnection(func(s *Socket) {
		ctxs <- s.Context()
		s.OnDisconnect(func(s *Socket, _ DisconnectReason) { gone <- s })
	})
	c := ts.dial(t)
	c.connect("/", "")
	ctx := wait(t, ctxs)
	if ctx.Err() != nil {
		t.Fatalf("the context of a connected socket has ended: %v", ctx.Err())
	}
	c.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/"})
	<-ctx.Done()
	var de *DisconnectError
	if cause := context.Cause(ctx); !errors.As(cause, &de) || de.Reason != ReasonClientNamespaceDisconnect || !errors.Is(cause, ErrDisconnected) {
		t.Errorf("cause %v, want a DisconnectError for %q", cause, ReasonClientNamespaceDisconnect)
	}
	if late := wait(t, gone).Context(); late.Err() == nil {
		t.Error("a context asked for after the disconnect has not ended")
	}
}
