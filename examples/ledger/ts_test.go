package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// TestTypeScriptClient runs the generated TypeScript client on the
// official socket.io-client against the ledger in its own process, which
// the script has killed and restarted through a control server: fail-fast,
// no delivery after the caller gave up, unavailable on a crash mid-call,
// wait for ready, deadlines, aborts, interceptors, size limits and
// refusals (internal/nodepeer/scripts/ledger_client.ts).
func TestTypeScriptClient(t *testing.T) {
	nodepeer.Require(t)
	bin := siotest.BuildProgram(t, "./examples/ledger")
	p := siotest.StartProcess(t, bin, "-max-http-buffer-size", "65536")
	refusing := siotest.StartProcess(t, bin, "-require-token", "secret")
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kill":
			p.Kill()
		case "/restart":
			p.Restart()
		default:
			http.NotFound(w, r)
		}
	}))
	defer control.Close()
	nodepeer.RunTS(t, 90*time.Second, "ledger_client.ts", p.URL(), control.URL, refusing.URL())
}

// TestConnectTransport calls the ledger with a client that the real
// @connectrpc/connect makes from protoc-gen-es's descriptor, on sio's
// Connect transport (runtime/ts/src/connect.ts): every method kind, codes,
// deadlines, aborts, interceptors, trailers and refusals
// (internal/nodepeer/scripts/ledger_connect.ts).
func TestConnectTransport(t *testing.T) {
	nodepeer.Require(t)
	bin := siotest.BuildProgram(t, "./examples/ledger")
	p := siotest.StartProcess(t, bin)
	refusing := siotest.StartProcess(t, bin, "-require-token", "secret")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a port nothing listens on any more
	nodepeer.RunTS(t, 60*time.Second, "ledger_connect.ts", p.URL(), refusing.URL(), closed.URL)
}

// TestTypeScriptClientInBrowser runs the same scenario in headless
// Chromium: the generated client bundled for a page, on the official
// socket.io-client's browser build.
func TestTypeScriptClientInBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required for the browser test: %v (apt-get install chromium)", err)
	}
	script := nodepeer.BundleBrowser(t, "ledger_browser.ts")
	bin := siotest.BuildProgram(t, "./examples/ledger")
	p := siotest.StartProcess(t, bin, "-max-http-buffer-size", "65536")
	refusing := siotest.StartProcess(t, bin, "-require-token", "secret")
	// The page comes from the control server, so that its fetches of
	// /kill and /restart are same-origin.
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><title>ledger scenario</title><script src="/scenario.js"></script>`))
		case "/scenario.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(script)
		case "/kill":
			p.Kill()
		case "/restart":
			p.Restart()
		default:
			http.NotFound(w, r)
		}
	}))
	defer control.Close()
	nodepeer.Run(t, 90*time.Second, "browser_ledger.mjs", control.URL+"/", p.URL(), control.URL, refusing.URL())
}

// TestTypeScriptStreamsResume: with connection state recovery, per-call
// streams of the TypeScript client survive the connection being cut under
// them (internal/nodepeer/scripts/ledger_resume.ts): every answer once, in
// order, on two streams at once.
func TestTypeScriptStreamsResume(t *testing.T) {
	p := siotest.StartProcess(t, siotest.BuildProgram(t, "./examples/ledger"), "-recovery")
	proxy := siotest.StartProxy(t, p.Addr)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cut" {
			http.NotFound(w, r)
			return
		}
		proxy.Cut()
	}))
	defer control.Close()
	out := nodepeer.RunTSOutput(t, 90*time.Second, "ledger_resume.ts", "http://"+proxy.Addr(), control.URL)
	if !strings.HasPrefix(strings.TrimSpace(out), "ok ") {
		t.Fatalf("the script printed %q", out)
	}
	t.Log(strings.TrimSpace(out))
}
