package redisstreamsadapter

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// startExampleRedis starts a redis-server for the example, names it in
// REDIS_ADDR, and returns a function that stops it. (The tests start
// their own, with siotest.)
func startExampleRedis() (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	redisAddr := "127.0.0.1:" + port
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", redisAddr); err == nil {
			c.Close()
			return stop, os.Setenv("REDIS_ADDR", redisAddr)
		}
	}
	stop()
	return nil, fmt.Errorf("redis-server on %s was not ready after 5s", redisAddr)
}

func TestMain(m *testing.M) {
	stop, err := startExampleRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "the example needs a redis-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
