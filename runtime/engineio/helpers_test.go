package engineio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// event is something a recorder saw.
type event struct {
	data   string
	binary bool
	closed bool
	reason CloseReason
	err    error
}

// recorder is a Receiver that records events on a channel, and can echo.
type recorder struct {
	conn   *Conn
	echo   bool
	events chan event
}

func newRecorder(echo bool) *recorder { return &recorder{echo: echo, events: make(chan event, 1024)} }

func (r *recorder) OnMessage(data []byte, binary bool) {
	if r.echo {
		_ = r.conn.Send(Message{Data: append([]byte(nil), data...), Binary: binary})
	}
	r.events <- event{data: string(data), binary: binary}
}

func (r *recorder) OnClose(reason CloseReason, err error) {
	r.events <- event{closed: true, reason: reason, err: err}
}

// next waits for the recorder's next event.
func (r *recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for an event")
		return event{}
	}
}

// waitClose skips messages until the close event.
func (r *recorder) waitClose(t *testing.T) event {
	t.Helper()
	for {
		if e := r.next(t); e.closed {
			return e
		}
	}
}

// testServer is an Engine.IO server on httptest with every session's
// recorder published on conns.
type testServer struct {
	*Server
	http  *httptest.Server
	conns chan *recorder
}

func newTestServer(t testing.TB, echo bool, opts *Options) *testServer {
	t.Helper()
	ts := &testServer{conns: make(chan *recorder, 1024)}
	ts.Server = NewServer(HandlerFunc(func(c *Conn) Receiver {
		r := newRecorder(echo)
		r.conn = c
		ts.conns <- r
		return r
	}), opts)
	ts.http = httptest.NewServer(ts.Server)
	t.Cleanup(func() {
		// Raw-HTTP tests leave polling sessions with no GET to carry the
		// close packet; don't wait the full close timeout for them.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_ = ts.Server.Close(ctx)
		ts.http.Close()
	})
	return ts
}

// session waits for the next session the server opened.
func (ts *testServer) session(t testing.TB) *recorder {
	t.Helper()
	select {
	case r := <-ts.conns:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a session")
		return nil
	}
}

// addr is the server's host:port.
func (ts *testServer) addr() string { return strings.TrimPrefix(ts.http.URL, "http://") }

func (ts *testServer) url(query string) string {
	return ts.http.URL + "/engine.io/?" + query
}

// do sends a request and returns status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// openPolling performs a polling handshake and returns the session id.
func openPolling(t *testing.T, ts *testServer) string {
	t.Helper()
	status, body := do(t, "GET", ts.url("EIO=4&transport=polling"), "")
	if status != 200 || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var h handshakeData
	if err := json.Unmarshal([]byte(body[1:]), &h); err != nil {
		t.Fatal(err)
	}
	return h.SID
}

// clientRecorder dials ts with opts and returns the client conn and its recorder.
func dialTest(t *testing.T, ts *testServer, opts *DialOptions) (*Conn, *recorder) {
	t.Helper()
	r := newRecorder(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.http.URL, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.conn = c
	t.Cleanup(func() {
		c.Close()
		r.waitClose(t)
	})
	return c, r
}

// transportModes are the ways a client can hold a session.
var transportModes = []struct {
	name string
	opts DialOptions
	want string // the transport the session should end up on
}{
	{"polling", DialOptions{Transports: []string{TransportPolling}}, TransportPolling},
	{"websocket", DialOptions{Transports: []string{TransportWebSocket}}, TransportWebSocket},
	{"upgrade", DialOptions{}, TransportWebSocket},
}

// runModes runs f once per transport mode.
func runModes(t *testing.T, f func(t *testing.T, opts DialOptions, want string)) {
	for _, m := range transportModes {
		t.Run(m.name, func(t *testing.T) { f(t, m.opts, m.want) })
	}
}

// waitTransport waits until c is on the wanted transport.
func waitTransport(t *testing.T, c *Conn, want string) {
	t.Helper()
	waitFor(t, "transport "+want, func() bool { return c.Transport() == want })
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialTestNoCleanup is dialTest for tests that end the session themselves.
func dialTestNoCleanup(t *testing.T, ts *testServer, opts *DialOptions) (*Conn, *recorder) {
	t.Helper()
	r := newRecorder(false)
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.http.URL, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.conn = c
	return c, r
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// webSocket returns the session's WebSocket transport, nil if it is not
// on one.
func (c *Conn) webSocket() *wsTransport {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, _ := c.push.(*wsTransport)
	return t
}
