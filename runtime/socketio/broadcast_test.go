package socketio

import (
	"context"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBroadcastIsEncodedOnce: a broadcast to a room costs one encoding of
// its payload, however many sockets receive it. The bytes allocated while
// broadcasting and delivering are measured against what one copy per
// recipient would take (the clients read with no copy of their own).
func TestBroadcastIsEncodedOnce(t *testing.T) {
	const recipients, rounds = 50, 4
	payload := strings.Repeat("x", 64<<10)
	srv := NewServer(nil)
	joined := make(chan struct{}, recipients)
	srv.OnConnection(func(s *Socket) {
		s.Join("room")
		joined <- struct{}{}
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close(context.Background())
		hs.Close()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conns := make([]*websocket.Conn, recipients)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		conns[i] = ws
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil { // open
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil { // CONNECT reply
			t.Fatal(err)
		}
	}
	for range recipients {
		wait(t, joined)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range rounds {
		if err := srv.Of("/").To("room").Emit("msg", payload); err != nil {
			t.Fatal(err)
		}
	}
	frame := len(`42["msg","` + payload + `"]`)
	for _, ws := range conns {
		for range rounds {
			mt, r, err := ws.NextReader()
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || mt != websocket.TextMessage || int(n) != frame {
				t.Fatalf("got a %d-byte frame of type %d (%v), want %d bytes of text", n, mt, err, frame)
			}
		}
	}
	runtime.ReadMemStats(&after)

	allocated := after.TotalAlloc - before.TotalAlloc
	perCopy := uint64(rounds * recipients * len(payload))
	t.Logf("allocated %d KiB while broadcasting; one copy per recipient would be %d KiB", allocated>>10, perCopy>>10)
	// Encoding once takes 2 × 256 KiB here, and each delivery a little
	// besides (a queue entry, a writer goroutine, pooled buffers refilled
	// after a collection; more under the race detector): well under a
	// quarter of what copying per recipient would allocate.
	if allocated > perCopy/4 {
		t.Errorf("allocated %d KiB for %d broadcasts to %d sockets: the payload is copied per recipient", allocated>>10, rounds, recipients)
	}
}
