package engineio

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

// Parking idle WebSocket connections. A goroutine blocked in a read holds
// at least a 2 KiB stack, and the reader under it a read buffer: most of
// what an idle connection costs. So a server-side WebSocket whose reader
// has nothing buffered, and which has gone quiet, is parked instead: its
// read goroutine exits, its read buffer goes back to a pool, and the socket
// waits in a readiness poller (epoll on Linux, park_linux.go) that starts a
// new read goroutine once bytes arrive. Nothing else changes: the heartbeat
// timer still pings, and a pong that does not come closes the session;
// writes do not need the read side.
//
// When to park: after the session's opening message, and after a heartbeat
// (a pong, or a revision 3 client's ping) when no other message came in
// since the heartbeat before. A busy connection thus keeps its goroutine
// and pays nothing per message beyond a flag; a quiet one parks at its next
// heartbeat. Connections the poller cannot watch keep their goroutine: TLS
// (its records are buffered above the socket), the client side, sockets
// that are not plain TCP or Unix connections, platforms without a poller.

// Reader states of a parkable transport (idleReader.state).
const (
	readerRunning uint32 = iota // a goroutine reads the connection
	readerParked                // no goroutine: the socket waits in the poller
	readerStopped               // the transport was stopped
)

// idleReader is what a server WebSocket needs to be parked.
type idleReader struct {
	owner *Conn
	// mu orders parking, waking and stopping; state is read without it only
	// by the read goroutine, which alone leaves readerRunning.
	mu    sync.Mutex
	state atomic.Uint32
	// active is set by any message but a heartbeat, and cleared by each
	// heartbeat: a heartbeat that finds it clear parks the connection.
	active atomic.Bool
	// parkable says the poller can watch the socket; registered, that the
	// poller has seen fd before (it is modified, not added, when parked
	// again).
	parkable, registered bool
	fd                   int32
}

// initIdle makes t parkable if its socket allows: a server connection
// whose frames come through the batchConn's own reader.
func (t *wsTransport) initIdle(c *Conn) {
	if t.batch == nil || t.batch.reader == nil || !pollable(t.batch.Conn) {
		return
	}
	t.idle.owner = c
	t.idle.parkable = true
}

// markActive records a message other than a heartbeat.
func (t *wsTransport) markActive() {
	if t.idle.parkable && !t.idle.active.Load() {
		t.idle.active.Store(true)
	}
}

// shouldPark reports whether the read goroutine may park the connection
// now: it is parkable and nothing read is left in the buffer.
func (t *wsTransport) shouldPark() bool {
	return t.idle.parkable && t.batch.reader.Buffered() == 0
}

// park hands the connection to the poller and reports whether it did; the
// calling read goroutine must then return without touching the
// connection's reader. It also reports true when the transport was
// stopped meanwhile, as there is nothing left to read then either.
func (t *wsTransport) park() bool {
	id := &t.idle
	sc, ok := t.batch.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	id.owner.dropIdleQueues()
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.state.Load() == readerStopped {
		return true
	}
	t.releaseReader()
	id.state.Store(readerParked)
	var armErr error
	err = rc.Control(func(fd uintptr) {
		id.fd = int32(fd)
		armErr = idlePoller.arm(t, int(fd), id.registered)
	})
	if err != nil || armErr != nil {
		idlePoller.forget(t, int(id.fd))
		t.restoreReader()
		id.state.Store(readerRunning)
		return false
	}
	id.registered = true
	return true
}

// wake runs on the poller when a parked connection's socket is readable
// (or hung up): it gives the connection its reader back and a read
// goroutine. What wakes a parked connection is nearly always the pong to
// its ping: that one is read and handled here, and the connection stays
// parked, without a goroutine, its stack or a read buffer.
func (t *wsTransport) wake() {
	id := &t.idle
	id.mu.Lock()
	if id.state.Load() != readerParked {
		id.mu.Unlock()
		return
	}
	if !t.v3 && takePong(int(id.fd)) {
		// The socket is open: stopIdle, which comes before its close,
		// waits for id.mu.
		err := idlePoller.arm(t, int(id.fd), true)
		if err != nil {
			t.resume()
		}
		id.mu.Unlock()
		inlinePongs.Add(1)
		id.owner.onPong()
		return
	}
	t.resume()
	id.mu.Unlock()
}

// inlinePongs counts the pongs wake handled itself, for tests.
var inlinePongs atomic.Uint64

// resume gives a parked connection its reader back and a read goroutine;
// id.mu is held.
func (t *wsTransport) resume() {
	t.restoreReader()
	t.idle.state.Store(readerRunning)
	go t.idle.owner.readRest(t)
}

// stopIdle takes a parked connection out of the poller before its socket
// is closed, and keeps it from being parked afterwards.
func (t *wsTransport) stopIdle() {
	id := &t.idle
	if !id.parkable {
		return
	}
	id.mu.Lock()
	if id.state.Load() == readerParked {
		idlePoller.forget(t, int(id.fd))
	}
	id.state.Store(readerStopped)
	id.mu.Unlock()
}

// Read buffers of parked connections. A connection that reads its frames
// itself gives its *bufio.Reader to readerPool while parked, and takes one
// back when it wakes. One whose frames gorilla reads keeps the Reader
// (gorilla holds that pointer) but not the buffer in it: release moves the
// reader's contents, buffer included, into a spare Reader kept in
// readerPool, and restore moves a spare's back. spareReaders keeps the
// emptied spares, so parking and waking allocate nothing once the pools
// are warm.
var readerPool, spareReaders sync.Pool

// releaseReader gives up the read buffer of a connection being parked.
func (t *wsTransport) releaseReader() {
	if t.conn == nil {
		t.batch.reader.Reset(nil)
		readerPool.Put(t.batch.reader)
		t.batch.reader = nil
		return
	}
	release(t.batch.reader)
}

// restoreReader gives a waking connection a read buffer again.
func (t *wsTransport) restoreReader() {
	if t.conn == nil {
		r := new(bufio.Reader)
		if spare, _ := readerPool.Get().(*bufio.Reader); spare != nil {
			r = spare
		}
		restoreInto(r, t.batch)
		t.batch.reader = r
		return
	}
	restore(t.batch.reader, t.batch)
}

// newReader returns a reader of readBufferSize over conn, with a pooled
// buffer when there is one.
func newReader(conn io.Reader) *bufio.Reader {
	r := new(bufio.Reader)
	restore(r, conn)
	return r
}

// release empties r, whose buffer must hold nothing unread, into the pool.
func release(r *bufio.Reader) {
	spare, _ := spareReaders.Get().(*bufio.Reader)
	if spare == nil {
		spare = new(bufio.Reader)
	}
	*spare = *r
	*r = bufio.Reader{}
	readerPool.Put(spare)
}

// restore gives r a pooled buffer, or a new one, and points it at conn.
func restore(r *bufio.Reader, conn io.Reader) {
	if spare, _ := readerPool.Get().(*bufio.Reader); spare != nil {
		*r = *spare
		*spare = bufio.Reader{}
		spareReaders.Put(spare)
	}
	restoreInto(r, conn)
}

// restoreInto points r at conn, with a new buffer if it has none.
func restoreInto(r *bufio.Reader, conn io.Reader) {
	if r.Size() == 0 {
		*r = *bufio.NewReaderSize(conn, readBufferSize)
	}
	r.Reset(conn)
}

// dropIdleQueues gives back the queue arrays of a session about to park,
// unless something is being written.
func (c *Conn) dropIdleQueues() {
	c.mu.Lock()
	if !c.writing && len(c.out.packets) == 0 {
		c.out.packets, c.out.spare = nil, nil
	}
	c.mu.Unlock()
}
