package socketio

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
)

// newV2Server is the server side of sio2_client.mjs's scenarios: a server
// that accepts Socket.IO 2 clients (AllowEIO3) beside current ones.
func newV2Server(t *testing.T) string {
	t.Helper()
	srv := NewServer(&Options{Engine: engineio.Options{
		AllowEIO3:         true,
		PingInterval:      200 * time.Millisecond,
		PingTimeout:       400 * time.Millisecond,
		MaxHTTPBufferSize: 200000,
	}})
	var mu sync.Mutex
	var lastDisconnect string
	nsp := srv.Of("/")
	srv.OnConnection(func(s *Socket) {
		s.On("whoami", func(s *Socket, _ Args, ack Ack) { _ = ack(s.ID(), s.Conn().Protocol()) })
		s.On("echo", func(s *Socket, args Args, ack Ack) {
			values, err := args.Values()
			if err != nil {
				t.Errorf("echo args: %v", err)
				return
			}
			if ack != nil {
				_ = ack(values...)
				return
			}
			_ = s.Emit("echo", values...)
		})
		s.On("ask-client", func(s *Socket, _ Args, ack Ack) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				answer, err := s.EmitWithAck(ctx, "question", 1, "two")
				if err != nil {
					t.Errorf("EmitWithAck: %v", err)
					return
				}
				values, _ := answer.Values()
				_ = ack(values...)
			}()
		})
		s.On("join", func(s *Socket, args Args, ack Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			_ = ack()
		})
		s.On("to-room-all", func(s *Socket, args Args, ack Ack) {
			var room, msg string
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &msg)
			b, _ := args.Bytes(2)
			_ = nsp.To(room).Emit("room-msg", msg, b)
			_ = ack()
		})
		s.On("disconnect-me", func(s *Socket, _ Args, _ Ack) { s.Disconnect(false) })
		s.On("watch-disconnect", func(s *Socket, _ Args, ack Ack) {
			s.OnDisconnect(func(_ *Socket, reason DisconnectReason) {
				mu.Lock()
				lastDisconnect = string(reason)
				mu.Unlock()
			})
			_ = ack()
		})
		s.On("last-disconnect", func(s *Socket, _ Args, ack Ack) {
			mu.Lock()
			defer mu.Unlock()
			_ = ack(lastDisconnect)
		})
	})
	admin := srv.Of("/admin")
	admin.Use(func(s *Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = jsonUnmarshal(s.Handshake().Auth, &auth)
		switch auth.Token {
		case "bad":
			return &ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
		case "none":
			return &ConnectError{Message: "not authorized"}
		}
		return nil
	})
	admin.OnConnection(func(s *Socket) {
		s.On("auth", func(s *Socket, _ Args, ack Ack) { _ = ack(s.Handshake().Auth, s.ID()) })
	})
	hs := siotest.Serve(t, srv, srv)
	return hs.URL
}

// TestSocketIO2Client runs the official socket.io-client 2.x against the
// server, on every transport, with a 4.x client beside it where the
// scenario mixes them.
func TestSocketIO2Client(t *testing.T) {
	nodepeer.Require(t)
	scenarios := []string{"connect", "namespaceQuery", "middlewareError", "invalidNamespace", "acks", "binary",
		"heartbeat", "mixedWithV4", "serverDisconnect", "clientDisconnect"}
	for _, mode := range []string{"polling", "polling-base64", "websocket", "upgrade"} {
		for _, sc := range scenarios {
			t.Run(mode+"/"+sc, func(t *testing.T) {
				t.Parallel()
				nodepeer.Run(t, 30*time.Second, "sio2_client.mjs", newV2Server(t), mode, sc)
			})
		}
	}
}

// TestSocketIO2ClientRefusedByDefault checks that without AllowEIO3 a
// 2.x client is refused, as by the reference.
func TestSocketIO2ClientRefusedByDefault(t *testing.T) {
	srv := NewServer(nil)
	hs := siotest.Serve(t, srv, srv)
	for _, q := range []string{"EIO=3&transport=polling", "transport=polling"} {
		res, err := hs.Client().Get(hs.URL + "/socket.io/?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != 400 || body != `{"code":5,"message":"Unsupported protocol version"}` {
			t.Errorf("%s: got %d %s, want 400 and code 5", q, res.StatusCode, body)
		}
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// v2Page loads the 2.x client bundle the server serves and echoes binary
// over polling (the browser's XHR takes binary, so payloads holding binary
// travel in the revision's binary form both ways), then over WebSocket.
const v2Page = `<!doctype html><title>loading</title>
<script src="/socket.io/socket.io.js"></script>
<script>
  const fail = (why) => { document.title = "fail: " + why; };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256);
  async function round(transports) {
    const socket = io({ transports, forceNew: true, reconnection: false });
    await new Promise((resolve, reject) => { socket.on("connect", resolve); socket.on("error", reject); });
    for (const n of [1, 300, 70000]) {
      const sent = bytes(n, n % 7); // sent as an ArrayBuffer: this client sends typed arrays as JSON
      const [back, text] = await new Promise((resolve) => socket.emit("echo", sent.buffer, "é😀", (...a) => resolve(a)));
      if (!(back instanceof ArrayBuffer) || !same(new Uint8Array(back), sent)) throw new Error(transports + ": binary of " + n + " bytes came back wrong: " + Object.prototype.toString.call(back) + " " + JSON.stringify(back).slice(0, 100));
      if (text !== "é😀") throw new Error(transports + ": text came back as " + text);
    }
    socket.close();
  }
  round(["polling"]).then(() => round(["polling", "websocket"])).then(() => { document.title = "ok"; }, (e) => fail(e.message || e));
</script>`

// TestSocketIO2ClientInChromium runs the 2.x client in a real browser,
// whose polling carries binary in the revision's binary payloads (the Node
// build of that client always asks for base64).
func TestSocketIO2ClientInChromium(t *testing.T) {
	nodepeer.Require(t)
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("Chromium is required: %v (apt-get install chromium)", err)
	}
	dist := filepath.Join(nodepeer.Dir(), "..", "..", "..", "node_modules", "socket.io-client-v2", "dist")
	srv := NewServer(&Options{ClientFiles: os.DirFS(dist), Engine: engineio.Options{AllowEIO3: true}})
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(_ *Socket, args Args, ack Ack) {
			values, _ := args.Values()
			_ = ack(values...)
		})
	})
	var mu sync.Mutex
	binaryPosts, binaryGets := 0, 0
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/octet-stream" {
			mu.Lock()
			binaryPosts++
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
		if r.Method == http.MethodGet && w.Header().Get("Content-Type") == "application/octet-stream" {
			mu.Lock()
			binaryGets++
			mu.Unlock()
		}
	}))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, v2Page) })
	hs := siotest.Serve(t, mux, srv)
	nodepeer.Run(t, 40*time.Second, "browser_page.mjs", hs.URL+"/")
	mu.Lock()
	defer mu.Unlock()
	if binaryPosts == 0 || binaryGets == 0 {
		t.Errorf("binary payloads: %d POSTs, %d GETs; the page should have sent and received some", binaryPosts, binaryGets)
	}
}
