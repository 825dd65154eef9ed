package socketio

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeAnswersTheRoot: Serve answers "/" with a page naming the
// endpoint, other paths with 404, and its endpoint as usual.
func TestServeAnswersTheRoot(t *testing.T) {
	srv := NewServer(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "/socket.io/") || !strings.Contains(body, "mux.Handle(srv.Path(), srv)") {
		t.Errorf("GET / = %d %q", code, body)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
	if code, body := get("/socket.io/?EIO=4&transport=polling"); code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Errorf("handshake = %d %q", code, body)
	}
	if err := srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after Close", err)
	}
}
