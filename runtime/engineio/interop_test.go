package engineio

import (
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
)

// TestOfficialClient drives the server with the npm engine.io-client in
// every transport mode and checks the server's side of each scenario.
func TestOfficialClient(t *testing.T) {
	nodepeer.Require(t)
	scenarios := []struct {
		name       string
		wantReason CloseReason // how the server session must end
	}{
		{"echo", ReasonTransportClose},
		{"burst", ReasonTransportClose},
		{"oversize", ReasonTransportError},
		{"heartbeat", ReasonTransportClose},
		{"serverClose", ReasonForcedClose},
	}
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		for _, sc := range scenarios {
			t.Run(mode+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				ts := newTestServer(t, false, &Options{
					PingInterval:      100 * time.Millisecond,
					PingTimeout:       200 * time.Millisecond,
					MaxHTTPBufferSize: 1000,
				})
				ended := make(chan event, 1)
				go func() {
					r := ts.session(t)
					for e := range r.events {
						switch {
						case e.closed:
							ended <- e
							return
						case e.data == "close me":
							r.conn.Close()
						default:
							_ = r.conn.Send(Message{Data: []byte(e.data), Binary: e.binary})
						}
					}
				}()
				nodepeer.Run(t, 20*time.Second, "eio_client.mjs", ts.http.URL, mode, sc.name)
				select {
				case e := <-ended:
					want := sc.wantReason
					if sc.name == "oversize" && mode == "polling" {
						// Over polling the server answers 413 and keeps the
						// session, as the reference does; the client then
						// drops its transport.
						want = ReasonTransportClose
					}
					if e.reason != want {
						t.Errorf("server session ended with %q (%v), want %q", e.reason, e.err, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("server session did not end")
				}
			})
		}
	}
}
