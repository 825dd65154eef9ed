package main

import (
	"net"
	"sync"
)

// batchedConn gathers the tool's writes between begin and flush into one
// system call, so that the load tool is not what limits a server able to
// answer faster than one write per request.
type batchedConn struct {
	net.Conn
	mu       sync.Mutex
	buf      []byte
	batching bool
}

func (c *batchedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *batchedConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

func (c *batchedConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
