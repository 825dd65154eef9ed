package siotest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards loopback TCP connections to a target and simulates
// network trouble: Freeze drops all traffic silently (a dead network)
// until Thaw, Cut closes every connection at once (a reset), Strand
// leaves them half-open (the client sees its connection go, the server
// does not), and SetTarget sends new connections elsewhere (a load
// balancer moving a client to another node).
type Proxy struct {
	ln net.Listener

	// mu guards the fields below.
	mu     sync.Mutex
	target string
	conns  []net.Conn
	frozen bool
	// stranded are the server sides of the connections Strand left open.
	stranded map[net.Conn]bool
	wg       sync.WaitGroup
}

// StartProxy listens on a free loopback port, forwarding to target, until
// the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget sends connections accepted from now on to target.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

// pipe copies src to dst until either closes. While frozen it drops data
// and passes no close on: the network has gone silent. From a stranded
// server side it drops data, and to one it passes no close on.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p.isFrozen() || p.isStranded(src) {
			if err != nil {
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				if p.isStranded(src) {
					continue // stranded meanwhile: go on draining the server
				}
				dst.Close()
				return
			}
		}
		if err != nil {
			if !p.isStranded(dst) {
				dst.Close()
			}
			return
		}
	}
}

func (p *Proxy) isStranded(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stranded[c]
}

// Strand leaves every connection the proxy carries half-open, as a
// network change does: the client side is reset, so the client sees its
// connection go, while the server side stays open, what the server sends
// read and dropped, so the server sees nothing until its ping timeout (or
// a Cut, or the test's end).
func (p *Proxy) Strand() {
	p.mu.Lock()
	if p.stranded == nil {
		p.stranded = map[net.Conn]bool{}
	}
	var clients []net.Conn
	for i := 0; i+1 < len(p.conns); i += 2 { // accept appends client, server
		if !p.stranded[p.conns[i+1]] {
			p.stranded[p.conns[i+1]] = true
			clients = append(clients, p.conns[i])
		}
	}
	p.mu.Unlock()
	for _, c := range clients {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

func (p *Proxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// Freeze makes the network silent: nothing passes, nothing closes.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Thaw lets traffic pass again after Freeze. What was dropped meanwhile
// stays lost: the connections frozen then carry a broken stream.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	p.frozen = false
	p.mu.Unlock()
}

// Cut resets every connection the proxy carries.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a graceful close
		}
		c.Close()
	}
}
