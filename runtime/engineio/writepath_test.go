package engineio

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/internal/siotest"
)

// openWebSocketSession serves sessions with receivers from newReceiver
// and returns a raw WebSocket client past the open packet.
func openWebSocketSession(t *testing.T, newReceiver func(*Conn) Receiver) *websocket.Conn {
	t.Helper()
	srv := NewServer(HandlerFunc(newReceiver), nil)
	hs := siotest.Serve(t, srv, srv)
	ws := dialWS(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket")
	readWS(t, ws) // open
	return ws
}

// blockingReceiver sends "early" from OnMessage, then blocks until release
// is closed, as a slow handler would.
type blockingReceiver struct {
	conn    *Conn
	release chan struct{}
}

func (r *blockingReceiver) OnMessage(data []byte, _ bool) {
	_ = r.conn.Send(Message{Data: []byte("early")})
	if string(data) != "fast" {
		<-r.release
	}
}

func (r *blockingReceiver) OnClose(CloseReason, error) {}

// Replies queued during OnMessage are normally written by the read loop
// once OnMessage returns; a handler that runs on must not hold them back.
func TestSendFromSlowOnMessageIsNotHeldBack(t *testing.T) {
	expectSlowMessageNotHeldBack(t, nil)
}

// The same holds for a slow message after fast ones, whether the deferral
// timer is still running from the one before or has already fired.
func TestSlowMessageAfterFastOnesIsNotHeldBack(t *testing.T) {
	expectSlowMessageNotHeldBack(t, []time.Duration{0, 0, 5 * time.Millisecond, 0})
}

// expectSlowMessageNotHeldBack sends a fast message per pause (waiting
// that long after its reply), then a slow one, whose reply must arrive
// while its OnMessage still runs.
func expectSlowMessageNotHeldBack(t *testing.T, pauses []time.Duration) {
	t.Helper()
	release := make(chan struct{})
	ws := openWebSocketSession(t, func(c *Conn) Receiver { return &blockingReceiver{conn: c, release: release} })
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the server's cleanup, even on failure
	for _, pause := range pauses {
		_ = ws.WriteMessage(websocket.TextMessage, []byte("4fast"))
		if _, got := readWS(t, ws); got != "4early" {
			t.Fatalf("got %q, want 4early", got)
		}
		time.Sleep(pause)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4slow"))
	_, got := readWS(t, ws) // fails after 5s if "early" waits for OnMessage
	unblock()
	if got != "4early" {
		t.Fatalf("got %q, want 4early", got)
	}
}

// Many requests arriving in one read are all answered, in order, whether
// the read loop writes the replies itself or leaves them to a writer.
func TestPipelinedRequestsAreAllAnswered(t *testing.T) {
	ws := openWebSocketSession(t, func(c *Conn) Receiver { return echoReceiver{c} })
	const n = 2000
	for round := range 3 {
		// One write carries every frame, so the server finds most of them
		// already buffered.
		var frames bytes.Buffer
		for i := range n {
			payload := fmt.Sprintf("4r%d-%d", round, i)
			frames.Write(maskedTextFrame(payload))
		}
		if _, err := ws.UnderlyingConn().Write(frames.Bytes()); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, got := readWS(t, ws); got != fmt.Sprintf("4r%d-%d", round, i) {
				t.Fatalf("reply %d of round %d = %q", i, round, got)
			}
		}
	}
}

// echoReceiver sends every message back.
type echoReceiver struct{ conn *Conn }

func (r echoReceiver) OnMessage(data []byte, binary bool) {
	_ = r.conn.Send(Message{Data: bytes.Clone(data), Binary: binary})
}

func (echoReceiver) OnClose(CloseReason, error) {}

// maskedTextFrame is one final client text frame, masked with a zero key
// (which leaves the payload as it is), for payloads under 126 bytes.
func maskedTextFrame(payload string) []byte {
	f := []byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(f, payload...)
}

// queueCaps reports the capacity of c's queue and spare arrays.
func queueCaps(c *Conn) (queue, spare int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cap(c.out.packets), cap(c.out.spare)
}

// A burst's queue arrays are kept while the session is busy, so request
// and response traffic reuses them, and given back at the next heartbeat
// that finds the session idle.
func TestQueueArraysKeptWhileBusyTrimmedWhenIdle(t *testing.T) {
	// The bursts must be over well before the first ping, which trims.
	ts := newTestServer(t, false, &Options{PingInterval: time.Second, PingTimeout: 20 * time.Second})
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws) // open
	conn := ts.session(t).conn

	const burst = 100
	msgs := make([]Message, burst)
	for i := range msgs {
		msgs[i] = Message{Data: []byte("m")}
	}
	for round := range 2 {
		if err := conn.Send(msgs...); err != nil {
			t.Fatal(err)
		}
		for i := range burst {
			if _, got := readWS(t, ws); got != "4m" {
				t.Fatalf("round %d message %d = %q, want 4m", round, i, got)
			}
		}
	}
	// The writer has stopped or is about to; the burst's arrays stay.
	waitFor(t, "the burst's arrays to be kept", func() bool {
		q, s := queueCaps(conn)
		return max(q, s) >= burst
	})

	// The next ping finds nothing queued and drops them.
	if _, got := readWS(t, ws); got != "2" {
		t.Fatalf("got %q, want a ping", got)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the arrays to be trimmed", func() bool {
		q, s := queueCaps(conn)
		return q <= maxIdleQueueCap && s == 0
	})
}
