package engineio

import (
	"context"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// parkedState reports the server side's reader state of session r.
func parkedState(r *recorder) uint32 {
	t := r.conn.webSocket()
	if t == nil {
		return readerStopped
	}
	return t.idle.state.Load()
}

// TestParkedSessionHeartbeatAndWake: a quiet WebSocket is parked (no read
// goroutine), still gets its pings, parks again after each pong, and reads
// the next message once it wakes; with no pong it is closed for the ping
// timeout.
func TestParkedSessionHeartbeatAndWake(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking needs the epoll poller")
	}
	ts := newTestServer(t, true, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: 2 * time.Second})
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	if _, open := readWS(t, ws); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open = %q", open)
	}
	sr := ts.session(t)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	if e := sr.next(t); e.data != "hello" {
		t.Fatalf("got %+v", e)
	}
	if _, echo := readWS(t, ws); echo != "4hello" {
		t.Fatalf("echo = %q", echo)
	}
	waitFor(t, "the session to park after its first message", func() bool { return parkedState(sr) == readerParked })

	pongs := inlinePongs.Load()
	for i := range 3 {
		if _, ping := readWS(t, ws); ping != "2" {
			t.Fatalf("heartbeat %d: got %q, want a ping", i, ping)
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		// The pong is read by the poller, and the session stays parked:
		// it was only a heartbeat. The next ping shows the pong was read.
		waitFor(t, "the session to park after a pong", func() bool { return parkedState(sr) == readerParked })
	}
	// The last pong may still be on its way; the first two were read
	// without waking the session's reader.
	if got := inlinePongs.Load() - pongs; got < 2 {
		t.Errorf("%d pongs read by the poller, want at least 2", got)
	}

	_ = ws.WriteMessage(websocket.TextMessage, []byte("4after"))
	if e := sr.next(t); e.data != "after" {
		t.Fatalf("after waking: got %+v", e)
	}
	for {
		if _, m := readWS(t, ws); m == "4after" {
			break
		}
	}
	// Now quiet: stop answering pings. The parked session must still
	// close at the pong deadline.
	if e := sr.waitClose(t); e.reason != ReasonPingTimeout {
		t.Fatalf("closed with %q, want ping timeout", e.reason)
	}
}

// TestParkedSessionPeerHangsUp: a parked session notices its peer going
// away without a read goroutine.
func TestParkedSessionPeerHangsUp(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking needs the epoll poller")
	}
	ts := newTestServer(t, true, nil)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	sr := ts.session(t)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	sr.next(t)
	waitFor(t, "the session to park", func() bool { return parkedState(sr) == readerParked })
	_ = ws.NetConn().Close()
	if e := sr.waitClose(t); e.reason != ReasonTransportClose {
		t.Fatalf("closed with %q, want transport close", e.reason)
	}
}

// TestParkedBufferReturns: parking gives the read buffer back and waking
// takes one, with what was read in between intact.
func TestParkedBufferReturns(t *testing.T) {
	r := newReader(strings.NewReader(""))
	release(r)
	if r.Size() != 0 {
		t.Fatalf("released reader still holds %d bytes", r.Size())
	}
	restore(r, nil)
	if r.Size() != readBufferSize {
		t.Fatalf("restored reader holds %d bytes, want %d", r.Size(), readBufferSize)
	}
}

// BenchmarkIdleWebSocket measures what an idle WebSocket session holds
// once parked: heap and goroutine stacks after a collection, per session,
// with the client ends as bare TCP connections in the same process
// (their share, a socket each, is in the figure).
func BenchmarkIdleWebSocket(b *testing.B) {
	const n = 1000
	srv := NewServer(HandlerFunc(func(*Conn) Receiver { return nopReceiver{} }), nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer func() { _ = srv.Close(context.Background()) }()
	addr := strings.TrimPrefix(hs.URL, "http://")
	allParked := func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		parked := 0
		for _, c := range srv.sessions {
			if t := c.webSocket(); t != nil && t.idle.state.Load() == readerParked {
				parked++
			}
		}
		return parked == n
	}
	var perConn, goroutines float64
	for b.Loop() {
		before, g0 := liveBytes()
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, openIdleWebSocket(b, addr))
		}
		waitFor(b, "the sessions to park", allParked)
		after, g1 := liveBytes()
		perConn += float64(int64(after)-int64(before)) / n
		goroutines += float64(g1-g0) / n
		for _, c := range conns {
			_ = c.Close()
		}
		waitFor(b, "the sessions to close", func() bool { return srv.Stats().WebSocketSessions == 0 })
	}
	b.ReportMetric(perConn/float64(b.N), "bytes/conn")
	b.ReportMetric(goroutines/float64(b.N), "goroutines/conn")
}

type nopReceiver struct{}

func (nopReceiver) OnMessage([]byte, bool)     {}
func (nopReceiver) OnClose(CloseReason, error) {}

// liveBytes returns the heap in use and the goroutine stacks after a
// collection, and the number of goroutines.
func liveBytes() (uint64, int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse, runtime.NumGoroutine()
}

// openIdleWebSocket opens a WebSocket session by hand on a bare TCP
// connection, sends one message and returns the connection.
func openIdleWebSocket(b *testing.B, addr string) net.Conn {
	c, _ := rawWebSocket(b, addr, false)
	// "4x", masked with a zero key.
	_, _ = c.Write([]byte{0x81, 0x82, 0, 0, 0, 0, '4', 'x'})
	return c
}
