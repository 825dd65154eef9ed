//go:build linux

package engineio

import (
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// poller watches parked connections' sockets in an epoll set of its own,
// one-shot: a socket reported readable is out of the set until it is
// parked again. The Go runtime's poller keeps its own registration of the
// same sockets, which this one does not disturb. One goroutine waits on
// the set, and the table from descriptor to transport is indexed by
// descriptor number, which the kernel keeps small and dense. The goroutine
// runs only while connections are parked.
type poller struct {
	once sync.Once
	epfd int
	// wakefd, an eventfd in the set, ends the wait when the last parked
	// connection is closed, so that run returns.
	wakefd int
	err    error

	mu      sync.Mutex
	byFD    []*wsTransport // the parked transport on each descriptor, or nil
	parked  int            // the transports in byFD
	running bool           // run is on
	broken  error          // why waiting failed; nothing is parked since
}

// idlePoller is the process's poller, started by the first parkable
// connection.
var idlePoller poller

// pollable reports whether conn's socket can be parked: a plain TCP or
// Unix connection, whose bytes all wait in the kernel (a TLS connection
// buffers records above it), once the poller is running.
func pollable(conn net.Conn) bool {
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		idlePoller.once.Do(idlePoller.start)
		return idlePoller.err == nil
	}
	return false
}

func (p *poller) start() {
	if p.epfd, p.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); p.err != nil {
		return
	}
	if p.wakefd, p.err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); p.err != nil {
		return
	}
	p.err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, p.wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.wakefd)})
}

// arm adds fd to the set (or re-arms it if the set has seen it) for one
// readiness report, handed to t.wake. It runs inside the socket's
// RawConn.Control, so fd stays open meanwhile.
func (p *poller) arm(t *wsTransport, fd int, registered bool) error {
	p.mu.Lock()
	if p.broken != nil {
		p.mu.Unlock()
		return p.broken
	}
	if fd >= len(p.byFD) {
		p.byFD = append(p.byFD, make([]*wsTransport, fd+1-len(p.byFD)+len(p.byFD)/2)...)
	}
	if p.byFD[fd] == nil {
		p.parked++
	}
	p.byFD[fd] = t
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
	op := unix.EPOLL_CTL_MOD
	if !registered {
		op = unix.EPOLL_CTL_ADD
	}
	err := unix.EpollCtl(p.epfd, op, fd, &ev)
	switch {
	case err == unix.ENOENT && registered:
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	case err == unix.EEXIST && !registered:
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	return err
}

// forget drops t from the table if it is still there for fd. Its socket
// leaves the epoll set when it is closed; a report already on its way
// finds the slot empty, or another connection that got the same
// descriptor, which then reads nothing yet and parks again.
func (p *poller) forget(t *wsTransport, fd int) {
	p.mu.Lock()
	if fd >= 0 && fd < len(p.byFD) && p.byFD[fd] == t {
		p.byFD[fd] = nil
		if p.parked--; p.parked == 0 && p.running {
			_, _ = unix.Write(p.wakefd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		}
	}
	p.mu.Unlock()
}

// run waits for parked sockets to become readable and wakes them, until
// none is parked.
func (p *poller) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil && err != unix.EINTR {
			p.fail(err)
			return
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == p.wakefd {
				var b [8]byte
				_, _ = unix.Read(fd, b[:])
				continue
			}
			p.mu.Lock()
			var t *wsTransport
			if fd < len(p.byFD) && p.byFD[fd] != nil {
				t, p.byFD[fd] = p.byFD[fd], nil
				p.parked--
			}
			p.mu.Unlock()
			if t != nil {
				t.wake()
			}
		}
		p.mu.Lock()
		if p.parked == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// fail stops parking after the wait failed, which only a broken epoll
// descriptor makes it do: the parked connections get their read
// goroutines back, and later ones keep theirs.
func (p *poller) fail(err error) {
	p.mu.Lock()
	p.broken = err
	var parked []*wsTransport
	for fd, t := range p.byFD {
		if t != nil {
			parked = append(parked, t)
			p.byFD[fd] = nil
		}
	}
	p.parked, p.running = 0, false
	p.mu.Unlock()
	for _, t := range parked {
		t.wake()
	}
}

// pongFrameLen is the length of a client's pong on a WebSocket: a final
// text frame, masked, of the one byte "3".
const pongFrameLen = 2 + 4 + 1

// takePong reads the socket's waiting bytes if they are exactly one pong
// frame, and reports whether it did. Anything else (more bytes, fewer, a
// hang-up) stays in the socket for the read goroutine. fd is non-blocking,
// as the Go runtime keeps every socket.
func takePong(fd int) bool {
	var b [pongFrameLen + 1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil || n != pongFrameLen || b[0] != 0x81 || b[1] != 0x81 || b[6]^b[2] != '3' {
		return false
	}
	n, err = unix.Read(fd, b[:pongFrameLen])
	return err == nil && n == pongFrameLen
}
