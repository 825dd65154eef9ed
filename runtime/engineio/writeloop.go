package engineio

import (
	"runtime"
	"time"
)

// The write path: packets queued by Send are written by one writer at a
// time, through the session's push transport (a WebSocket, or a client's
// polling POSTs); a server on long-polling instead wakes the client's
// parked GET, which carries them (polling.go).

// writeDeferral lets the WebSocket read loop write what OnMessage queued
// once it returns, which saves starting a writer goroutine and a
// scheduling hop on the request/reply path. Under the session's mu.
type writeDeferral struct {
	delivering bool // the read loop is inside OnMessage
	pending    bool // data queued meanwhile waits for the read loop
	// limit starts a writer goroutine for deferred data if OnMessage runs
	// on for long, so a slow handler does not hold back what it sent;
	// armed says it is running.
	limit *time.Timer
	armed bool
}

// pushTransport is a transport that writes a session's packets as soon as
// they are queued, from the session's write loop. Server-side polling is
// the other kind: it holds them until the client's GET takes them.
type pushTransport interface {
	// write sends one batch of packets, each write bounded by the
	// session's write timeout.
	write(c *Conn, packets []outPacket) error
	// sayGoodbye tells the peer, best effort, that the session is over.
	sayGoodbye(c *Conn)
	// stop releases the transport at once.
	stop()
}

// clientPollingLocked returns the client's polling transport, if the
// session is on it.
func (c *Conn) clientPollingLocked() *clientPolling {
	p, _ := c.push.(*clientPolling)
	return p
}

// batchingLocked returns the session's WebSocket transport, which can
// gather what handlers send during OnMessage into one write, if the
// session is on it.
func (c *Conn) batchingLocked() *wsTransport {
	if t, ok := c.push.(*wsTransport); ok && t.batch != nil {
		return t
	}
	return nil
}

// kickLocked gets queued packets moving: it starts the write loop for
// push transports, or wakes the parked GET for server-side polling.
func (c *Conn) kickLocked() {
	if c.push != nil {
		if c.deferral.delivering && c.batchingLocked() != nil {
			// The read loop takes the writer's part once OnMessage returns.
			if !c.writing {
				c.writing = true
				c.deferral.pending = true
				c.armDeferLimitLocked()
			}
			return
		}
		if cli := c.clientPollingLocked(); !c.writing && (cli == nil || !cli.pausing) {
			c.writing = true
			go c.writeLoop()
		}
		return
	}
	c.wakePollLocked()
}

func (c *Conn) wakePollLocked() {
	if c.poll != nil && c.poll.waiting {
		select {
		case c.poll.wake <- struct{}{}:
		default:
		}
	}
}

// maxKeptQueueCap is the largest queue backing array kept between writes.
// Arrays are kept while the writer stops and restarts, as it does between
// bursts of request/response traffic: dropping them there made the queue
// regrow from nothing (1, 2, 4, ... entries) about once per call.
const maxKeptQueueCap = 256

// maxIdleQueueCap is the largest queue array a session keeps once a
// heartbeat finds nothing queued: larger ones are dropped then, so a
// session that has gone quiet since a burst gives its arrays back within
// one ping interval.
const maxIdleQueueCap = 4

// writeLoop is the one writer of a push transport. It runs while there is
// something to write and exits when the queue is empty, so idle sessions
// have no writer goroutine.
func (c *Conn) writeLoop() {
	// Let goroutines that are ready to run (handlers finishing their
	// replies, other broadcasts) queue their packets first, so that one
	// write carries them all. With nothing else ready this returns at once.
	runtime.Gosched()
	for c.writeNext() {
	}
}

// maxInlineBatches bounds the batches the read loop writes itself before
// handing the rest to a writer goroutine, so that a stream of broadcasts
// to this connection cannot keep it from reading.
const maxInlineBatches = 2

// maxWriteDeferral is how long data queued during OnMessage may wait for
// it to return before a writer goroutine takes it.
const maxWriteDeferral = time.Millisecond

// armDeferLimitLocked makes sure the deferral timer runs. It is left
// running when the deferral ends, not stopped: a timer that is still
// running from an earlier deferral fires sooner than this one needs, which
// at worst starts a writer early, and under load the timer is then set at
// most once a millisecond instead of set and stopped for every message.
func (c *Conn) armDeferLimitLocked() {
	switch {
	case c.deferral.limit == nil:
		c.deferral.limit = time.AfterFunc(maxWriteDeferral, c.endDeferral)
	case !c.deferral.armed:
		c.deferral.limit.Reset(maxWriteDeferral)
	}
	c.deferral.armed = true
}

// dropDeferLimit frees the deferral timer, which most connections need
// only for the replies to their opening message; a connection that goes on
// sending makes a new one.
func (c *Conn) dropDeferLimit() {
	c.mu.Lock()
	if c.deferral.limit != nil {
		c.deferral.limit.Stop() // a run already due finds nothing deferred
		c.deferral.limit, c.deferral.armed = nil, false
	}
	c.mu.Unlock()
}

// endDeferral hands data still deferred to a writer goroutine.
func (c *Conn) endDeferral() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deferral.armed = false
	if c.deferral.pending {
		c.deferral.pending = false
		go c.writeLoop()
	}
}

// writeDeferred runs on the read loop after OnMessage returns: it writes
// what the message's handlers queued, or starts a writer if one is needed.
func (c *Conn) writeDeferred() {
	c.mu.Lock()
	c.deferral.delivering = false
	pending := c.deferral.pending
	c.deferral.pending = false
	if !pending {
		c.mu.Unlock()
		return
	}
	t := c.batchingLocked()
	more := t != nil && t.batch.inputBuffered()
	c.mu.Unlock()
	if more {
		// More requests are already read: let a writer goroutine gather
		// their replies into one write while this loop parses them.
		go c.writeLoop()
		return
	}
	for range maxInlineBatches {
		if !c.writeNext() {
			return
		}
	}
	go c.writeLoop()
}

// writeNext writes one batch of queued packets. It reports false, with
// writing cleared, once there is nothing more to write or the transport
// failed.
func (c *Conn) writeNext() bool {
	c.mu.Lock()
	batch := c.out.packets
	if cli := c.clientPollingLocked(); cli != nil && cli.pausing {
		// Leave the queue for the upgraded transport.
		c.stopWritingLocked()
		c.mu.Unlock()
		return false
	}
	if len(batch) == 0 || c.state == stateClosed {
		c.stopWritingLocked()
		closing := c.state == stateClosing
		c.mu.Unlock()
		if closing {
			c.finishClose()
		}
		return false
	}
	c.out.sending = c.out.bytes
	c.out.packets, c.out.bytes = c.out.spare, 0
	c.out.spare = nil
	push := c.push
	c.mu.Unlock()

	err := push.write(c, batch)
	clear(batch)
	c.mu.Lock()
	c.out.sending = 0
	c.mu.Unlock()
	if err != nil {
		c.closeNow(ReasonTransportError, err)
		c.mu.Lock()
		c.stopWritingLocked()
		c.mu.Unlock()
		return false
	}
	if cap(batch) <= maxKeptQueueCap {
		c.mu.Lock()
		if c.out.packets == nil {
			c.out.packets = batch[:0]
		} else {
			c.out.spare = batch[:0]
		}
		c.mu.Unlock()
	}
	return true
}

// stopWritingLocked records that the write loop is exiting, and tells a
// client upgrade waiting for it.
func (c *Conn) stopWritingLocked() {
	c.writing = false
	if cli := c.clientPollingLocked(); cli != nil && cli.writerPaused != nil {
		close(cli.writerPaused)
		cli.writerPaused = nil
	}
}

// handOverWriterLocked ends a stretch in which the caller wrote to the
// transport itself (a handshake or an upgrade), starting the write loop if
// anything queued up meanwhile or the session began closing.
func (c *Conn) handOverWriterLocked() {
	c.writing = false
	if len(c.out.packets) > 0 || c.state == stateClosing {
		c.writing = true
		go c.writeLoop()
	}
}
