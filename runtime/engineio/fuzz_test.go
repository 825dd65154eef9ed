package engineio

import (
	"context"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
)

// FuzzClientPolling serves the client an arbitrary handshake and then an
// arbitrary poll response, as a broken or hostile server might: Dial must
// fail with an error or connect, and the session must then close without
// a panic or a hang.
func FuzzClientPolling(f *testing.F) {
	open := `0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	for _, s := range [][2]string{
		{open, "4hello\x1ebAQID\x1e2"},
		{open + "\x1e4early", "1"},
		{open, "6\x1e3\x1e5"},
		{open, "4x\x1e"},
		{open, "b!!"},
		{open, ""},
		{`0{"sid":"s","pingInterval":1,"pingTimeout":1,"maxPayload":1}`, "4a\x1e4b"},
		{`0{"sid":"s","pingInterval":9223372036854775807,"pingTimeout":9223372036854775807}`, "2"},
		{`0{"sid":"","pingInterval":25000,"pingTimeout":20000}`, "4a"},
		{`0{"sid":"s","pingInterval":-1,"pingTimeout":20000}`, "4a"},
		{`0null`, ""},
		{"4hello", ""},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	srv := siotest.NewScriptedServer()
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, handshake, poll string) {
		query, _, forget := srv.Add(handshake, poll)
		defer forget()
		recv := &closeWaiter{closed: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := Dial(ctx, srv.URL, recv, &DialOptions{
			Transports: []string{TransportPolling}, WriteTimeout: time.Second, Query: query, HTTPClient: srv.Client,
		})
		if err != nil {
			return
		}
		c.Close()
		select {
		case <-recv.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("the session did not close")
		}
	})
}

// closeWaiter drops messages, however many arrive, and reports the close.
type closeWaiter struct{ closed chan struct{} }

func (w *closeWaiter) OnMessage([]byte, bool)     {}
func (w *closeWaiter) OnClose(CloseReason, error) { close(w.closed) }
