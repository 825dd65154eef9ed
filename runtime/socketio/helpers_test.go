package socketio

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// rawClient speaks Socket.IO over an engineio client connection, packet by
// packet, so tests can see exactly what the server sends.
type rawClient struct {
	t       *testing.T
	conn    *engineio.Conn
	packets chan siopacket.Packet
	closed  chan engineio.CloseReason
	reasm   siopacket.Reassembler
	// done is closed when the test ends: packets nobody reads then no
	// longer block the connection's reader (and its Close).
	done chan struct{}
}

// deliver queues p for the test, unless the test is over.
func (c *rawClient) deliver(p siopacket.Packet) {
	select {
	case c.packets <- p:
	case <-c.done:
	}
}

func (c *rawClient) OnMessage(data []byte, binary bool) {
	if binary {
		if p, done, err := c.reasm.Add(data); err == nil && done {
			c.deliver(p)
		}
		return
	}
	p, n, err := siopacket.DecodeText(data, siopacket.Limits{})
	if err != nil {
		c.t.Errorf("client got an undecodable packet %q: %v", data, err)
		return
	}
	if n > 0 {
		c.reasm.Start(p)
		return
	}
	p.Data = append([]byte(nil), p.Data...)
	c.deliver(p)
}

func (c *rawClient) OnClose(r engineio.CloseReason, _ error) {
	select {
	case c.closed <- r:
	case <-c.done:
	}
}

// testServer is a Socket.IO server on httptest.
type testServer struct {
	*Server
	url string
}

func newTestServer(t *testing.T, opts *Options) *testServer {
	t.Helper()
	srv := NewServer(opts)
	hs := siotest.Serve(t, srv, srv)
	return &testServer{srv, hs.URL}
}

// dial opens a raw client over WebSocket.
func (ts *testServer) dial(t *testing.T) *rawClient {
	t.Helper()
	c := &rawClient{t: t, packets: make(chan siopacket.Packet, 1024), closed: make(chan engineio.CloseReason, 1), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := engineio.Dial(ctx, ts.url, c, &engineio.DialOptions{
		Path: "/socket.io/", Transports: []string{engineio.TransportWebSocket},
		Header: http.Header{"X-Client": {"raw test client"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.conn = conn
	t.Cleanup(func() {
		close(c.done)
		conn.Close()
	})
	return c
}

func (c *rawClient) send(p siopacket.Packet) {
	msgs := encode(&p, false)
	if err := c.conn.Send(msgs...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) sendText(text string) {
	if err := c.conn.Send(engineio.Message{Data: []byte(text)}); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) next() siopacket.Packet {
	c.t.Helper()
	select {
	case p := <-c.packets:
		return p
	case <-time.After(5 * time.Second):
		c.t.Fatal("timed out waiting for a packet")
		return siopacket.Packet{}
	}
}

// connect joins nsp and returns the socket id, failing on CONNECT_ERROR.
func (c *rawClient) connect(nsp string, auth string) string {
	c.t.Helper()
	p := siopacket.Packet{Type: siopacket.Connect, Namespace: nsp}
	if auth != "" {
		p.Data = []byte(auth)
	}
	c.send(p)
	got := c.next()
	if got.Type != siopacket.Connect || got.Namespace != nsp {
		c.t.Fatalf("connect %s: got %v %s %s", nsp, got.Type, got.Namespace, got.Data)
	}
	var body struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(got.Data, &body)
	return body.SID
}

func (c *rawClient) emit(nsp, event string, args ...any) {
	c.t.Helper()
	p, err := eventPacket(nsp, event, args)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(p)
}

// expectEvent waits for an event packet and returns its name and args.
func (c *rawClient) expectEvent() (string, Args) {
	c.t.Helper()
	p := c.next()
	if p.Type != siopacket.Event && p.Type != siopacket.BinaryEvent {
		c.t.Fatalf("got %v %s, want an event", p.Type, p.Data)
	}
	name, args, err := siopacket.ParseEvent(&p)
	if err != nil {
		c.t.Fatal(err)
	}
	return name, args
}

// wait receives from ch or fails after 5s.
func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

func engineioBinary(b []byte) engineio.Message { return engineio.Message{Data: b, Binary: true} }
