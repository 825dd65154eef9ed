package socketio

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// TestClientFiles: the bundle files are served under the path with an
// ETag that answers If-None-Match with 304; other names fall through to
// Engine.IO; without ClientFiles nothing is served.
func TestClientFiles(t *testing.T) {
	files := fstest.MapFS{
		"socket.io.js":         {Data: []byte("/* client */")},
		"socket.io.min.js.map": {Data: []byte(`{"version":3}`)},
		"package.json":         {Data: []byte(`{}`)},
	}
	ts := newTestServer(t, &Options{ClientFiles: files})
	get := func(name, etag string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.url+"/socket.io/"+name, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	res, body := get("socket.io.js", "")
	etag := res.Header.Get("ETag")
	if res.StatusCode != http.StatusOK || body != "/* client */" || etag == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/javascript") {
		t.Fatalf("socket.io.js: %d %q, ETag %q, %s", res.StatusCode, body, etag, res.Header.Get("Content-Type"))
	}
	if res, _ := get("socket.io.js", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with its ETag: %d, want 304", res.StatusCode)
	}
	if res, body := get("socket.io.min.js.map", ""); res.StatusCode != http.StatusOK || body != `{"version":3}` {
		t.Errorf("source map: %d %q", res.StatusCode, body)
	}
	if res, _ := get("socket.io.esm.min.js", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("a bundle file the FS lacks: %d, want 404", res.StatusCode)
	}
	// Not a bundle name: Engine.IO answers (400, no transport).
	if res, _ := get("package.json", ""); res.StatusCode != http.StatusBadRequest {
		t.Errorf("package.json: %d, want Engine.IO's 400", res.StatusCode)
	}
	plain := newTestServer(t, nil)
	res, err := http.Get(plain.url + "/socket.io/socket.io.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("without ClientFiles: %d, want Engine.IO's 400", res.StatusCode)
	}
}

// clientPage loads only the served bundle, connects and makes an
// acknowledged call.
const clientPage = `<!doctype html><title>loading</title>
<script src="/socket.io/socket.io.min.js"></script>
<script>
  const socket = io({ transports: ["websocket"] });
  socket.emit("hello", "browser", (answer) => {
    document.title = answer === "hello, browser" ? "ok" : "fail: " + answer;
  });
  socket.on("connect_error", (err) => { document.title = "fail: " + err.message; });
</script>`

// TestClientFilesInChromium: a page whose only script is the bundle the
// server serves (the socket.io-client package's dist) talks to it.
func TestClientFilesInChromium(t *testing.T) {
	nodepeer.Require(t)
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("Chromium is required: %v (apt-get install chromium)", err)
	}
	dist := filepath.Join(nodepeer.Dir(), "..", "..", "..", "node_modules", "socket.io-client", "dist")
	srv := NewServer(&Options{ClientFiles: os.DirFS(dist)})
	srv.OnConnection(func(s *Socket) {
		s.On("hello", func(_ *Socket, args Args, ack Ack) {
			var who string
			_ = args.Decode(0, &who)
			_ = ack("hello, " + who)
		})
	})
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, clientPage) })
	hs := siotest.Serve(t, mux, srv)
	nodepeer.Run(t, 40*time.Second, "browser_page.mjs", hs.URL+"/")
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}
