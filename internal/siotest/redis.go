// Package siotest holds test support shared by the repository's tests:
// real peers started on loopback.
package siotest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
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
	r := &Redis{Port: FreePort(t)}
	r.Start(t)
	t.Cleanup(r.Stop)
	return r
}

// Addr returns host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + r.Port }

// Start starts the server (again, after Stop) on the same port.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.Port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", r.Addr())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
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
