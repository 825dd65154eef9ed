// Package siotest holds test support shared by the repository's tests:
// real peers started on loopback.
package siotest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a real redis-server on a free loopback port, with nothing
// persisted. It is stopped when the test ends.
type Redis struct {
	Port string
	args []string // more redis-server arguments
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server for t. A missing redis-server fails the
// test, unless SIO_SKIP_REDIS=1 makes it skip.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	requireRedis(t, "redis-server")
	return startRedis(t, nil)
}

// StartRedisWith starts a redis-server for t with more arguments, such as
// "--appendonly", "yes", "--dir", t.TempDir() for one whose data survives
// Stop and Start.
func StartRedisWith(t testing.TB, args ...string) *Redis {
	t.Helper()
	requireRedis(t, "redis-server")
	return startRedis(t, func(string) []string { return args })
}

// requireRedis fails t, or skips it with SIO_SKIP_REDIS=1, if a Redis
// program is missing.
func requireRedis(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		requireProgram(t, p, "SIO_SKIP_REDIS", "redis-server")
	}
}

// startRedis starts a redis-server with args added to the defaults;
// argsFor may name more free ports, so it is called on every try.
func startRedis(t testing.TB, argsFor func(port string) []string) *Redis {
	t.Helper()
	// A port found free may be taken before redis-server binds it; then
	// try another.
	r := &Redis{}
	var err error
	for range 5 {
		r.Port = FreePort(t)
		if argsFor != nil {
			r.args = argsFor(r.Port)
		}
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
	args := append([]string{"--port", r.Port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, r.args...)
	r.cmd = exec.Command("redis-server", args...)
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

// Pause stops the server (SIGSTOP): it keeps its connections and answers
// nothing until Resume.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}

// Stop kills the server (SIGKILL), as a crash would.
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
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// RedisCluster is a Redis Cluster of real redis-servers on loopback, each
// serving a share of the hash slots, without replicas. It is stopped when
// the test ends.
type RedisCluster struct {
	Nodes []*Redis
}

// StartRedisCluster starts n redis-servers in cluster mode, has redis-cli
// assign them the slots, and waits until the cluster is ready.
func StartRedisCluster(t testing.TB, n int) *RedisCluster {
	t.Helper()
	requireRedis(t, "redis-server", "redis-cli")
	dir := t.TempDir()
	c := &RedisCluster{}
	create := []string{"--cluster", "create"}
	for range n {
		r := startRedis(t, func(port string) []string {
			return []string{
				"--cluster-enabled", "yes", "--cluster-port", FreePort(t),
				"--cluster-config-file", dir + "/nodes-" + port + ".conf", "--cluster-node-timeout", "5000",
			}
		})
		c.Nodes = append(c.Nodes, r)
		create = append(create, r.Addr())
	}
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range c.Nodes {
		for {
			out, err := exec.Command("redis-cli", "-p", r.Port, "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster was not ready after 20s: %s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// Addrs returns every node's host:port.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, r := range c.Nodes {
		addrs[i] = r.Addr()
	}
	return addrs
}
