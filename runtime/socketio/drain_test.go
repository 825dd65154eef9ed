package socketio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// TestDrain: once Shutdown begins the server is not ready (the readiness
// probe answers 503) and refuses new connections, while open ones keep
// working until the shutdown hooks (running RPC handlers) are done.
func TestDrain(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.OnConnection(func(s *Socket) {
		s.On("ping", func(_ *Socket, _ Args, ack Ack) { _ = ack("pong") })
	})
	ready := func() int {
		rec := httptest.NewRecorder()
		ts.ReadinessHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	if got := ready(); got != http.StatusOK || !ts.Ready() {
		t.Fatalf("readiness before the shutdown: %d", got)
	}
	c := ts.dial(t)
	c.connect("/", "")

	release := make(chan struct{})
	ts.RegisterOnShutdown(func(context.Context) { <-release }) // a handler still running
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for ts.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readiness while draining: %d, want 503", got)
	}
	res, err := http.Get(ts.url + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new connection while draining got %d, want 503", res.StatusCode)
	}
	// The open connection still works.
	c.send(siopacket.Packet{Type: siopacket.Event, Namespace: "/", ID: 7, HasID: true, Data: []byte(`["ping"]`)})
	if ack := c.next(); ack.Type != siopacket.Ack || string(ack.Data) != `["pong"]` {
		t.Errorf("an open connection's call while draining: %v %s", ack.Type, ack.Data)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned before its hooks did: %v", err)
	default:
	}
	close(release)
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, c.closed); got == "" {
		t.Error("the connection was not closed by the shutdown")
	}
}
