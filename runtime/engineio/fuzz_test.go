package engineio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	// One server for every input, so that the run does not use up the
	// loopback's ports; each input's requests carry its number.
	var (
		mu      sync.Mutex
		scripts = map[string]*pollScript{}
		inputs  atomic.Int64
	)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := scripts[r.URL.Query().Get("input")]
		mu.Unlock()
		if s == nil {
			return
		}
		if r.Method != http.MethodGet {
			if body, _ := io.ReadAll(r.Body); bytes.Contains(body, []byte("1")) {
				s.closeOnce.Do(func() { close(s.closed) })
			}
			return // 200, empty
		}
		switch s.gets.Add(1) {
		case 1:
			_, _ = w.Write([]byte(s.handshake))
		case 2:
			_, _ = w.Write([]byte(s.poll))
		default:
			// A long poll with nothing to say, until the client closes.
			select {
			case <-s.closed:
				_, _ = w.Write([]byte("6"))
			case <-r.Context().Done():
			}
		}
	}))
	f.Cleanup(hs.Close)
	// One client too, whose kept-alive connections serve every input.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	f.Cleanup(client.CloseIdleConnections)
	f.Fuzz(func(t *testing.T, handshake, poll string) {
		id := strconv.FormatInt(inputs.Add(1), 10)
		mu.Lock()
		scripts[id] = &pollScript{handshake: handshake, poll: poll, closed: make(chan struct{})}
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(scripts, id)
			mu.Unlock()
		}()
		recv := &closeWaiter{closed: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := Dial(ctx, hs.URL, recv, &DialOptions{
			Transports: []string{TransportPolling}, WriteTimeout: time.Second, Query: url.Values{"input": {id}},
			HTTPClient: client,
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

// pollScript is what the fuzzed server answers one input's client.
type pollScript struct {
	handshake, poll string
	gets            atomic.Int32
	closed          chan struct{} // closed by the client's close packet
	closeOnce       sync.Once
}
