package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"

	"github.com/sio-dev/sio/examples/chat/chatapp"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/nodepeer"
)

// TestBrowser runs the chat in headless Chromium, one page at a phone's
// width and one at a desktop's: they join a room and exchange acknowledged
// messages without overflowing sideways, a mass mention asks its sender
// first (the typed client-side Confirm), a newcomer gets the history and
// a distinct name, and both pages survive the server dropping every
// transport, over WebSocket and with WebSocket disabled. Screenshots of
// each run at both widths are left in .tmp/screenshots.
func TestBrowser(t *testing.T) {
	nodepeer.Require(t)
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("SIO_SKIP_BROWSER") == "1" {
			t.Skip("no Chromium (SIO_SKIP_BROWSER=1)")
		}
		t.Fatalf("Chromium is required for the browser test: %v (apt-get install chromium)", err)
	}
	_, file, _, _ := runtime.Caller(0)
	shots := filepath.Join(filepath.Dir(file), "..", "..", ".tmp", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"default", "polling"} {
		t.Run(mode, func(t *testing.T) {
			srv, handler, err := newServer()
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/", handler)
			// Test-only hook: drop every transport, as a flaky network would.
			mux.HandleFunc("/test/drop", func(w http.ResponseWriter, _ *http.Request) {
				for _, s := range srv.Of(chatv1sio.ChatServiceNamespace).Sockets() {
					s.Conn().Close()
				}
			})
			hs := httptest.NewServer(mux)
			defer hs.Close()
			defer srv.Close(t.Context())
			phone := filepath.Join(shots, "chat-"+mode+"-phone.png")
			desktop := filepath.Join(shots, "chat-"+mode+"-desktop.png")
			_ = os.Remove(phone)
			_ = os.Remove(desktop)
			nodepeer.Run(t, 60*time.Second, "browser_chat.mjs", hs.URL, mode, phone, desktop)
			for _, shot := range []string{phone, desktop} {
				if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
					t.Errorf("no screenshot at %s: %v", shot, err)
				}
			}
		})
	}
}

// TestClients runs the Go and Node client examples against the chat.
func TestClients(t *testing.T) {
	srv, handler, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(handler)
	defer hs.Close()
	defer srv.Close(t.Context())

	t.Run("goclient", func(t *testing.T) {
		cmd := exec.Command("go", "run", "../goclient", "-url", hs.URL, "-text", "hi from the test")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "gopher: hi from the test") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("nodeclient", func(t *testing.T) {
		nodepeer.RunTS(t, 30*time.Second, "../../../examples/nodeclient/main.ts", hs.URL)
	})
	// The demo's /metrics counted those calls.
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`sio_rpc_server_handled_total{code="ok",rpc_method="SendMessage",rpc_service="example.chat.v1.ChatService",rpc_type="unary"} 2`,
		`sio_socketio_connected_total 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %q:\n%s", want, body)
		}
	}
}

// TestTrace: with SIO_TRACE=1 the demo writes a span for each call.
func TestTrace(t *testing.T) {
	t.Setenv("SIO_TRACE", "1")
	var spans siotest.SyncBuffer
	srv, handler, err := chatapp.New(nil, observability(&spans)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(handler)
	defer hs.Close()
	defer srv.Close(t.Context())
	out, err := exec.Command("go", "run", "../goclient", "-url", hs.URL, "-text", "traced").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`"Name": "example.chat.v1.ChatService/SendMessage"`, `"Name": "example.chat.v1.ChatService/Join"`, `"Value": "sio"`} {
		if !strings.Contains(spans.String(), want) {
			t.Errorf("no %s in the spans written:\n%.2000s", want, spans.String())
		}
	}
}

// TestAdminUI: with SIO_ADMIN_USERNAME and SIO_ADMIN_PASSWORD the demo
// serves the Admin UI's page and instruments the server (runtime/sioadmin
// tests the UI itself, in Chromium).
func TestAdminUI(t *testing.T) {
	t.Setenv("SIO_ADMIN_USERNAME", "admin")
	t.Setenv("SIO_ADMIN_PASSWORD", "demo-password")
	t.Chdir("../..") // where node_modules is, as for make demo
	srv, handler, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(handler)
	defer hs.Close()
	defer srv.Close(t.Context())
	res, err := http.Get(hs.URL + "/admin-ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<title>Socket.IO Admin UI</title>") {
		t.Fatalf("/admin-ui/: %d %.200s", res.StatusCode, body)
	}
	instrumented := false
	for _, n := range srv.Namespaces() {
		instrumented = instrumented || n.Name() == "/admin"
	}
	if !instrumented {
		t.Fatal("the server has no /admin namespace")
	}
}
