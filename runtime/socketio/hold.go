package socketio

import (
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// resentWindow is how long, after a session is recovered, a broadcast
// that arrives live is checked against those sent to it as missed. A
// broadcast is recorded before it is published, and the publish may reach
// this node later than the read of the missed broadcasts (the adapter's
// publish queue keeps messages for up to 10 s while the broker is slow).
const resentWindow = 15 * time.Second

// holdQueue keeps what is sent to a socket while it is being connected:
// from the moment it joins its rooms until its CONNECT (and, on recovery,
// the broadcasts it missed) has been sent. Without it a broadcast could
// reach the client before the CONNECT of its namespace, or, on recovery,
// fall between the read of the missed broadcasts and the joining of the
// rooms, and be lost. After a recovery it drops, for a while, the
// broadcasts that arrive live although they were sent as missed.
type holdQueue struct {
	active atomic.Bool // holding or filtering; read without the lock on every send
	mu     sync.Mutex
	// holding: sends wait in held.
	holding bool
	held    [][]engineio.Message
	// parser is the format of what is held, nil for the default one: the
	// offsets of held broadcasts are read from their messages.
	parser sioparser.Parser
	// resent are the offsets sent as missed broadcasts, dropped when they
	// come live until resentUntil.
	resent      map[string]bool
	resentUntil time.Time
}

// newHoldQueue returns a queue in which sends wait.
func newHoldQueue() *holdQueue {
	q := &holdQueue{holding: true}
	q.active.Store(true)
	return q
}

// intercept holds msgs, encoded by parser, or drops them as already sent,
// and reports whether it did either; if not, the caller sends them.
func (q *holdQueue) intercept(msgs []engineio.Message, parser sioparser.Parser) bool {
	if !q.active.Load() {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.parser = parser
	if q.holding {
		q.held = append(q.held, msgs)
		return true
	}
	return q.resentLocked(msgs)
}

// resentLocked reports whether msgs is a broadcast already sent as missed.
func (q *holdQueue) resentLocked(msgs []engineio.Message) bool {
	if len(q.resent) == 0 {
		return false
	}
	if time.Now().After(q.resentUntil) {
		q.resent = nil
		q.active.Store(false)
		return false
	}
	offset := frameOffset(msgs, q.parser)
	if offset == "" || !q.resent[offset] {
		return false
	}
	delete(q.resent, offset) // each arrives live at most once
	if len(q.resent) == 0 {
		q.active.Store(false)
	}
	return true
}

// release sends what was held, in order, except broadcasts whose offset
// is in resent (sent as missed broadcasts), then lets sends through,
// still dropping those broadcasts for resentWindow. It reports whether the
// queue is done with: nothing to drop.
func (q *holdQueue) release(conn *engineio.Conn, resent map[string]bool) (done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.holding = false
	q.resent, q.resentUntil = resent, time.Now().Add(resentWindow)
	for _, msgs := range q.held {
		if !q.resentLocked(msgs) {
			_ = conn.Send(msgs...)
		}
	}
	q.held = nil
	if len(q.resent) == 0 {
		q.resent = nil
		q.active.Store(false)
		return true
	}
	return false
}

// clear forgets what was held, and goes on holding.
func (q *holdQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = nil
}

// frameOffset returns the recovery offset of a broadcast encoded by
// parser (nil for the default format): its last argument, if a string.
// It returns "" for anything else.
func frameOffset(msgs []engineio.Message, parser sioparser.Parser) string {
	if len(msgs) == 0 {
		return ""
	}
	if parser != nil {
		dec := parser.NewDecoder(siopacket.Limits{MaxAttachments: math.MaxInt32}) // the server made it
		for _, m := range msgs {
			if p, ok, err := dec.Decode(m.Data, m.Binary); err != nil {
				return ""
			} else if ok {
				return packetOffset(&p)
			}
		}
		return ""
	}
	p, _, err := siopacket.DecodeText(msgs[0].Data, siopacket.Limits{})
	if err != nil {
		return ""
	}
	return packetOffset(&p)
}

// packetOffset returns the recovery offset of a recorded broadcast.
func packetOffset(p *siopacket.Packet) string {
	if p.Type != siopacket.Event && p.Type != siopacket.BinaryEvent {
		return ""
	}
	args, err := siopacket.ParseArgs(p.Data, nil)
	if err != nil || args.Len() < 2 {
		return ""
	}
	var offset string
	if json.Unmarshal(args.Raw(args.Len()-1), &offset) != nil {
		return ""
	}
	return offset
}
