package socketio

import (
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
)

// waitForLog waits until the log holds every one of want.
func waitForLog(t *testing.T, log *siotest.SyncBuffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := log.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log has no %q:\n%s", missing, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogs checks what an operator sees: a refused request with its remote
// address, a panicking handler at error with its stack, a protocol
// violation with the session's address, at the levels the docs give.
func TestLogs(t *testing.T) {
	log := &siotest.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServer(t, &Options{Logger: logger})
	ts.OnConnection(func(s *Socket) {
		s.On("boom", func(*Socket, Args, Ack) { panic("handler bug") })
	})

	res, err := http.Get(ts.url + "/socket.io/?EIO=3&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	waitForLog(t, log, `level=DEBUG msg="engineio: request refused"`, "remote=127.0.0.1:", `reason="Unsupported protocol version"`)

	c := ts.dial(t)
	c.connect("/", "")
	c.emit("/", "boom")
	waitForLog(t, log, `level=ERROR msg="socketio: event handler panicked"`, "panic=\"handler bug\"", "stack=", "logs_test.go")

	c.sendText("9garbage") // not a Socket.IO packet type: the connection is closed
	waitForLog(t, log, `msg="socketio: protocol violation"`, "remote=127.0.0.1:")
	if strings.Contains(log.String(), "level=INFO") {
		t.Errorf("something was logged at info, per packet or otherwise:\n%s", log.String())
	}
}

// TestSIODebug runs a server with no logger of its own (slog.Default(),
// at its default level, info) in a child process: its Engine.IO debug
// records appear with SIO_DEBUG=engineio and not without.
func TestSIODebug(t *testing.T) {
	if os.Getenv("SIO_LOG_CHILD") == "1" {
		ts := newTestServer(t, nil)
		res, err := http.Get(ts.url + "/socket.io/?EIO=3&transport=polling")
		if err == nil {
			res.Body.Close()
		}
		time.Sleep(50 * time.Millisecond)
		return
	}
	for _, env := range []string{"SIO_DEBUG=engineio", "SIO_DEBUG=socketio", "SIO_DEBUG=*"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIODebug$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SIO_LOG_CHILD=1", env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", env, err, out)
		}
		logged := strings.Contains(string(out), "DEBUG engineio: request refused")
		if want := env != "SIO_DEBUG=socketio"; logged != want {
			t.Errorf("with %s the refused request was logged: %v, want %v\n%s", env, logged, want, out)
		}
	}
}
