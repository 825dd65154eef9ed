package attack

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
)

// full reports whether the attacks run at full size (SIO_ATTACK_FULL=1).
func full() bool { return os.Getenv("SIO_ATTACK_FULL") == "1" }

// pick returns bounded in the default run and fullSize with SIO_ATTACK_FULL=1.
func pick[T any](bounded, fullSize T) T {
	if full() {
		return fullSize
	}
	return bounded
}

// stats is what a target serves at /debug/stats.
type stats struct {
	Goroutines int    `json:"goroutines"`
	FDs        int    `json:"fds"`
	HeapAlloc  uint64 `json:"heapAlloc"`
	Sessions   int    `json:"sessions"`
}

// target is a running target process and the URL of its stats endpoint.
type target struct {
	*siotest.Process
	statsURL string
}

// startTarget builds and starts the target program with args, plus a
// -stats-addr on a free loopback port.
func startTarget(t *testing.T, args ...string) *target {
	t.Helper()
	bin := siotest.BuildProgram(t, "./internal/attack/target")
	// The stats port is chosen here and bound by the target: another
	// process may take it in between, so a target whose stats endpoint
	// does not come up is started again on another port.
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		statsAddr := ln.Addr().String()
		_ = ln.Close()
		p := siotest.StartProcess(t, bin, append(args, "-stats-addr", statsAddr)...)
		tg := &target{Process: p, statsURL: "http://" + statsAddr + "/debug/stats"}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := tg.stats(); err == nil {
				return tg
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Kill()
		if try == 4 {
			t.Fatalf("the target's stats endpoint on %s did not come up", statsAddr)
		}
	}
}

// stats fetches the target's counts.
func (tg *target) stats() (stats, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(tg.statsURL)
	if err != nil {
		return stats{}, err
	}
	defer resp.Body.Close()
	var s stats
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitStats polls the target's counts until ok accepts them, failing the
// test after timeout. It returns the accepted counts.
func (tg *target) waitStats(t *testing.T, timeout time.Duration, ok func(stats) bool) stats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last stats
	var err error
	for time.Now().Before(deadline) {
		if last, err = tg.stats(); err == nil && ok(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("target stats did not reach the expected state within %v: last %+v, err %v", timeout, last, err)
	return last
}

// handshake does a normal Engine.IO polling handshake against base and
// returns the session id.
func handshake(base string, timeout time.Duration) (string, error) {
	c := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "0{") {
		return "", fmt.Errorf("handshake: %s %q", resp.Status, body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body[1:], &open); err != nil {
		return "", err
	}
	return open.SID, nil
}

// figure prints an attack's result in the suite's one-line format.
func figure(t *testing.T, name string, value float64, unit string, limit float64) {
	t.Helper()
	t.Logf("FIGURE %s: %.2f %s (limit %.2f)", name, value, unit, limit)
}
