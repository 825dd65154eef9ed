package siotest

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sslAnswer sends PostgreSQL's SSLRequest on a new connection and
// returns its one-byte answer ('N' without TLS), or an error if none
// comes within wait.
func sslAnswer(port string, wait time.Duration) (byte, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil {
		return 0, err
	}
	return b[0], nil
}

// A server answers, answers nothing while paused, answers again once
// resumed, dies, and starts again on the same data directory and port.
func TestPostgresPauseStopStart(t *testing.T) {
	p := StartPostgres(t)
	if b, err := sslAnswer(p.Port, 2*time.Second); err != nil || b != 'N' {
		t.Fatalf("answer %q, %v", b, err)
	}
	p.Pause()
	if b, err := sslAnswer(p.Port, 300*time.Millisecond); err == nil {
		t.Errorf("a paused server answered %q", b)
	}
	// Its backends, in sessions of their own, are stopped too.
	children := childrenOf(p.cmd.Process.Pid)
	if len(children) == 0 {
		t.Error("the postmaster has no children")
	}
	for _, c := range children {
		// A stop is delivered asynchronously; a child that has exited
		// (Z) waits for its paused parent.
		s := procState(c)
		for deadline := time.Now().Add(time.Second); s != "T" && s != "Z" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			s = procState(c)
		}
		if s != "T" && s != "Z" {
			t.Errorf("child %d of the paused postmaster is in state %q", c, s)
		}
	}
	p.Resume()
	if b, err := sslAnswer(p.Port, 2*time.Second); err != nil || b != 'N' {
		t.Fatalf("after Resume: answer %q, %v", b, err)
	}
	p.Stop()
	if _, err := sslAnswer(p.Port, time.Second); err == nil {
		t.Fatal("the port still answers after Stop")
	}
	p.Start(t)
	if b, err := sslAnswer(p.Port, 2*time.Second); err != nil || b != 'N' {
		t.Fatalf("after Start: answer %q, %v", b, err)
	}
}

// procState returns the state letter of process pid, from /proc.
func procState(pid int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}
