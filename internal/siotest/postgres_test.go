package siotest

import (
	"net"
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
