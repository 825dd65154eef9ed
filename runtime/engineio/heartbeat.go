package engineio

import (
	"time"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// The heartbeat: the server pings every pingInterval and waits pingTimeout
// for the pong; the side that is pinged (a client, or a server speaking
// revision 3, whose clients ping) expects a ping within the sum. One timer
// deadline per session carries it (timers.go), and the close deadline once
// the session closes.

// peerPings reports whether the other side sends the pings and this one
// answers them: a client, or a server speaking revision 3.
func (c *Conn) peerPings() bool { return c.isClient || c.eio3 }

// heartbeat is a session's heartbeat timer, under the session's mu.
type heartbeat struct {
	due       time.Time // when the session's timer is meant to fire; it may run late
	awaitPong bool      // server side: a ping is out, the pong not yet back
}

// startHeartbeat arms the heartbeat timer: the server pings every
// pingInterval; the side that is pinged (a client, or a revision 3 server)
// expects a ping within pingInterval+pingTimeout.
func (c *Conn) startHeartbeat() {
	d := c.limits.pingInterval
	if c.peerPings() {
		d += c.limits.pingTimeout
	}
	c.mu.Lock() // the timer's callback may run before setTimer returns
	defer c.mu.Unlock()
	c.initTimer()
	c.hb.due = time.Now().Add(d)
	c.setTimer(c.hb.due)
}

// resetTimerLocked re-arms the heartbeat timer to fire d after from.
func (c *Conn) resetTimerLocked(from time.Time, d time.Duration) {
	c.hb.due = from.Add(d)
	c.setTimer(c.hb.due)
}

// heartbeatDeadlineLocked is when the server-side heartbeat fails if no
// pong comes: the pong deadline of a ping that is out, or pingTimeout after
// the next ping is due; for revision 3, when the client's ping is due.
func (c *Conn) heartbeatDeadlineLocked() time.Time {
	if c.hb.awaitPong || c.eio3 {
		return c.hb.due
	}
	return c.hb.due.Add(c.limits.pingTimeout)
}

// expiredLocked reports whether the heartbeat has already failed, even if
// the timer has not fired yet: timers can run late on a loaded machine, and
// a request must not revive a session whose pong deadline has passed.
func (c *Conn) expiredLocked(now time.Time) bool {
	if c.state != stateOpen || c.isClient {
		return false
	}
	return now.After(c.heartbeatDeadlineLocked())
}

// onTimer runs when the heartbeat timer fires.
func (c *Conn) onTimer() {
	c.mu.Lock()
	switch {
	case c.state == stateClosed:
		c.mu.Unlock()
	case c.state == stateClosing:
		// The close deadline passed before the queue could be flushed.
		reason := c.closeReason
		c.mu.Unlock()
		c.closeNow(reason, nil)
	case c.peerPings() || c.hb.awaitPong:
		c.mu.Unlock()
		c.closeNow(ReasonPingTimeout, nil)
	default:
		c.trimIdleQueuesLocked()
		c.hb.awaitPong = true
		// Count the timeout from when the ping was due, not from when a
		// late timer got round to it.
		c.resetTimerLocked(c.hb.due, c.limits.pingTimeout)
		c.out.packets = append(c.out.packets, outPacket{Packet: eiopacket.Packet{Type: eiopacket.Ping}})
		c.kickLocked()
		c.mu.Unlock()
	}
}

func (c *Conn) onPong() {
	c.mu.Lock()
	if c.state == stateOpen && c.hb.awaitPong {
		c.hb.awaitPong = false
		c.resetTimerLocked(time.Now(), c.limits.pingInterval)
	}
	c.mu.Unlock()
}

func (c *Conn) onPing() {
	c.mu.Lock()
	if c.state == stateOpen {
		c.trimIdleQueuesLocked()
		c.resetTimerLocked(time.Now(), c.limits.pingInterval+c.limits.pingTimeout)
		c.out.packets = append(c.out.packets, outPacket{Packet: eiopacket.Packet{Type: eiopacket.Pong}})
		c.kickLocked()
	}
	c.mu.Unlock()
}

// trimIdleQueuesLocked drops the queue arrays kept from busier times,
// when the session is between writes. It runs once per heartbeat.
func (c *Conn) trimIdleQueuesLocked() {
	if c.writing || len(c.out.packets) > 0 {
		return
	}
	c.out.spare = nil
	if cap(c.out.packets) > maxIdleQueueCap {
		c.out.packets = nil
	}
}
