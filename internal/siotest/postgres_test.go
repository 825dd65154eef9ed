package siotest

import (
	"net"
	"testing"
	"time"
)

// A server starts, dies with its backends, and starts again on the same
// data directory and port.
func TestPostgresStopStart(t *testing.T) {
	p := StartPostgres(t)
	dial := func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+p.Port, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if dial() == nil {
		t.Fatal("the port still accepts connections after Stop")
	}
	p.Start(t)
	if err := dial(); err != nil {
		t.Fatal(err)
	}
}
