package siotest

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// runUntilListening starts cmd and waits until addr accepts connections.
// It reports false (cmd stopped again) if cmd exits first or addr does not
// come up within 5 s; otherwise cmd is killed when the test ends.
func runUntilListening(t testing.TB, cmd *exec.Cmd, addr string) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			return true
		}
		select {
		case <-done:
			return false
		default:
		}
	}
	_ = cmd.Process.Kill()
	<-done
	return false
}
