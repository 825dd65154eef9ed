package main

import (
	"net/http"
	"net/http/httptest"
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
