// Package siotest holds test support shared by the repository's tests:
// real peers started on loopback.
package siotest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a real redis-server on a free loopback port, with nothing
// persisted. It is stopped when the test ends.
type Redis struct {
	Port string
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server for t. A missing redis-server fails the
// test, unless SIO_SKIP_REDIS=1 makes it skip.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("SIO_SKIP_REDIS") == "1" {
			t.Skip("no redis-server (SIO_SKIP_REDIS=1)")
		}
		t.Fatalf("redis-server is required: %v (apt-get install redis-server)", err)
	}
	// A port found free may be taken before redis-server binds it; then
	// try another.
	r := &Redis{}
	var err error
	for range 5 {
		r.Port = FreePort(t)
		if err = r.start(); err == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatal(err)
	return nil
}

// Addr returns host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + r.Port }

// Start starts the server again, after Stop, on the same port.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
}

// start runs redis-server and waits until it says it accepts connections,
// so that a test never talks to some other listener on the port.
func (r *Redis) start() error {
	r.cmd = exec.Command("redis-server", "--port", r.Port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("redis-server on port %s exited before it was ready:\n%s", r.Port, log.String())
	}()
	select {
	case err = <-ready:
	case <-time.After(5 * time.Second):
		err = fmt.Errorf("redis-server on port %s was not ready after 5s", r.Port)
	}
	if err != nil {
		r.Stop()
	}
	return err
}

// Stop kills the server.
func (r *Redis) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
