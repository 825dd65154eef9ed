package engineio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestClientExchange(t *testing.T) {
	runModes(t, func(t *testing.T, opts DialOptions, want string) {
		ts := newTestServer(t, true, nil)
		c, cr := dialTest(t, ts, &opts)
		ts.session(t)
		waitTransport(t, c, want)
		blob := bytes.Repeat([]byte{0, 1, 2, 255}, 1000)
		_ = c.Send(Message{Data: []byte("hello €")}, Message{Data: blob, Binary: true}, Message{Data: []byte{}})
		for _, w := range []event{{data: "hello €"}, {data: string(blob), binary: true}, {data: ""}} {
			if got := cr.next(t); got != w {
				t.Fatalf("got %q binary=%v, want %q binary=%v", trunc(got.data), got.binary, trunc(w.data), w.binary)
			}
		}
	})
}

func trunc(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// TestClientOrderingAcrossUpgrade sends a steady stream while the session
// upgrades, and checks that nothing is lost, duplicated or reordered.
func TestClientOrderingAcrossUpgrade(t *testing.T) {
	const n = 500
	ts := newTestServer(t, true, nil)
	c, cr := dialTest(t, ts, nil)
	ts.session(t)
	go func() {
		for i := range n {
			_ = c.Send(Message{Data: fmt.Appendf(nil, "%d", i)})
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := range n {
		if got := cr.next(t); got.data != fmt.Sprint(i) {
			t.Fatalf("message %d = %+v", i, got)
		}
	}
	waitTransport(t, c, TransportWebSocket)
}

// TestConcurrentSessions runs many sessions at once, each with several
// goroutines sending, under the race detector.
func TestConcurrentSessions(t *testing.T) {
	ts := newTestServer(t, true, nil)
	const sessions, senders, perSender = 20, 4, 25
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Go(func() {
			opts := transportModes[s%len(transportModes)].opts
			c, cr := dialTest(t, ts, &opts)
			var send sync.WaitGroup
			for g := range senders {
				send.Go(func() {
					for i := range perSender {
						_ = c.Send(Message{Data: fmt.Appendf(nil, "%d:%d", g, i)})
					}
				})
			}
			next := make([]int, senders)
			for range senders * perSender {
				e := cr.next(t)
				var g, i int
				if _, err := fmt.Sscanf(e.data, "%d:%d", &g, &i); err != nil || i != next[g] {
					t.Errorf("session %d: got %q, want %d:%d", s, e.data, g, next[g])
					return
				}
				next[g]++
			}
			send.Wait()
		})
	}
	wg.Wait()
}

// TestHeartbeatKeepsIdleSessionsAlive holds idle sessions for several ping
// intervals in every transport mode.
func TestHeartbeatKeepsIdleSessionsAlive(t *testing.T) {
	runModes(t, func(t *testing.T, opts DialOptions, want string) {
		ts := newTestServer(t, true, &Options{PingInterval: 40 * time.Millisecond, PingTimeout: 60 * time.Millisecond})
		c, cr := dialTest(t, ts, &opts)
		sr := ts.session(t)
		waitTransport(t, c, want)
		time.Sleep(300 * time.Millisecond)
		select {
		case e := <-sr.events:
			t.Fatalf("server session ended while idle: %+v", e)
		case e := <-cr.events:
			t.Fatalf("client session ended while idle: %+v", e)
		default:
		}
		_ = c.Send(Message{Data: []byte("still there")})
		if e := cr.next(t); e.data != "still there" {
			t.Fatalf("got %+v", e)
		}
	})
}

// TestClientPingTimeout dials a server that opens a session and then never
// pings: the client must give up after pingInterval+pingTimeout.
func TestClientPingTimeout(t *testing.T) {
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"s","upgrades":[],"pingInterval":30,"pingTimeout":30,"maxPayload":1000}`))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer hs.Close()
	r := newRecorder(false)
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	if _, err := Dial(ctx, hs.URL, r, &DialOptions{Transports: []string{TransportWebSocket}}); err != nil {
		t.Fatal(err)
	}
	if e := r.waitClose(t); e.reason != ReasonPingTimeout {
		t.Errorf("reason %q", e.reason)
	}
}

func TestClientCloseReachesServer(t *testing.T) {
	runModes(t, func(t *testing.T, opts DialOptions, want string) {
		ts := newTestServer(t, false, nil)
		c, cr := dialTestNoCleanup(t, ts, &opts)
		sr := ts.session(t)
		waitTransport(t, c, want)
		c.Close()
		if e := cr.waitClose(t); e.reason != ReasonForcedClose {
			t.Errorf("client reason %q", e.reason)
		}
		if e := sr.waitClose(t); e.reason != ReasonTransportClose {
			t.Errorf("server reason %q (%v)", e.reason, e.err)
		}
	})
}

func TestDialErrors(t *testing.T) {
	ts := newTestServer(t, false, &Options{AllowRequest: func(*http.Request) error { return errors.New("nope") }})
	for _, m := range transportModes {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		_, err := Dial(ctx, ts.http.URL, newRecorder(false), &m.opts)
		cancel()
		if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "403") {
			t.Errorf("%s: Dial to a rejecting server = %v", m.name, err)
		}
	}
	// Open packets the client cannot work with: no session, no heartbeat,
	// or a heartbeat longer than a time.Duration holds.
	for _, open := range []string{
		`0{"sid":"","pingInterval":25000,"pingTimeout":20000}`,
		`0{"sid":"s","pingInterval":0,"pingTimeout":20000}`,
		`0{"sid":"s","pingInterval":25000,"pingTimeout":-1}`,
		`0{"sid":"s","pingInterval":9223372036854775807,"pingTimeout":20000}`,
		`0{"sid":"s","pingInterval":25000,"pingTimeout":9223372036854}`,
		`0[]`,
		`4{}`,
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(open)) }))
		_, err := Dial(t.Context(), hs.URL, newRecorder(false), &DialOptions{Transports: []string{TransportPolling}})
		hs.Close()
		if !errors.Is(err, ErrHandshake) {
			t.Errorf("open packet %s: Dial = %v, want ErrHandshake", open, err)
		}
	}
	for _, u := range []string{"ftp://x", "::bad"} {
		if _, err := Dial(t.Context(), u, newRecorder(false), nil); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}

// A client that makes its own HTTP transport closes its kept-alive
// connections when the session ends, whether it was closed, upgraded or
// refused: a reconnecting client must not gather open connections.
func TestClientLeavesNoIdleConnections(t *testing.T) {
	var open atomic.Int32
	counting := func(hs *httptest.Server) {
		hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
	}
	ts := newTestServer(t, false, nil)
	ts.http.Close()
	ts.http = httptest.NewUnstartedServer(ts.Server)
	counting(ts.http)
	ts.http.Start()
	t.Cleanup(ts.http.Close)

	for _, m := range transportModes {
		for range 3 {
			c, r := dialTestNoCleanup(t, ts, &m.opts)
			ts.session(t)
			waitTransport(t, c, m.want)
			c.Close()
			r.waitClose(t)
		}
	}
	refusing := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`0{"sid":""}`))
	}))
	counting(refusing)
	refusing.Start()
	t.Cleanup(refusing.Close)
	for range 3 {
		if _, err := Dial(t.Context(), refusing.URL, newRecorder(false), &DialOptions{Transports: []string{TransportPolling}}); !errors.Is(err, ErrHandshake) {
			t.Fatalf("Dial = %v", err)
		}
	}
	waitFor(t, "the clients' connections to close", func() bool { return open.Load() == 0 })
}

// TestWindowOfALargeBufferIsNotHeldAgainstTheSession: a message that is a
// few bytes cut from a buffer far larger than MaxPendingBytes (a request
// read with others, a fuzzer's input) counts as those few bytes, not as
// the buffer, and does not end the session as a slow consumer.
func TestWindowOfALargeBufferIsNotHeldAgainstTheSession(t *testing.T) {
	ts := newTestServer(t, false, nil)
	c, _ := dialTest(t, ts, &DialOptions{Transports: []string{TransportWebSocket}, MaxPendingBytes: 1 << 20})
	sr := ts.session(t)
	big := make([]byte, 4<<20)
	copy(big, "window")
	for range 50 {
		if err := c.Send(Message{Data: big[:6:len(big)], Binary: true}); err != nil {
			t.Fatalf("send of a 6-byte window: %v", err)
		}
	}
	for range 50 {
		if got := sr.next(t); got.data != "window" {
			t.Fatalf("server got %q", trunc(got.data))
		}
	}
}
