package siotest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// requireProgram returns the path of program (looked up in PATH, then in
// /usr/sbin, where Debian puts daemons that a non-root PATH lacks). A
// missing program fails t, or skips it when the environment variable skip
// is "1"; pkg names the Debian package that installs it.
func requireProgram(t testing.TB, program, skip, pkg string) string {
	t.Helper()
	if bin, err := exec.LookPath(program); err == nil {
		return bin
	}
	bin := filepath.Join("/usr/sbin", program)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if os.Getenv(skip) == "1" {
		t.Skipf("no %s (%s=1)", program, skip)
	}
	t.Fatalf("%s is required (apt-get install %s)", program, pkg)
	return ""
}

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
