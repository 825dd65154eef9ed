package socketio

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// holdQueue keeps what is sent to a socket while it is being connected:
// from the moment it joins its rooms until its CONNECT (and, on recovery,
// the broadcasts it missed) has been sent. Without it a broadcast could
// reach the client before the CONNECT of its namespace, or, on recovery,
// fall between the read of the missed broadcasts and the joining of the
// rooms, and be lost.
type holdQueue struct {
	on   atomic.Bool // read without the lock on every send
	mu   sync.Mutex
	held [][]engineio.Message
}

// start makes sends wait in the queue.
func (q *holdQueue) start() { q.on.Store(true) }

// hold queues msgs if the queue is on, and reports whether it did.
func (q *holdQueue) hold(msgs []engineio.Message) bool {
	if !q.on.Load() {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.on.Load() {
		return false // released meanwhile: send directly, after what was held
	}
	q.held = append(q.held, msgs)
	return true
}

// release sends what was held, in order, except broadcasts whose offset
// is in sent (already sent as missed broadcasts), then lets sends through.
func (q *holdQueue) release(conn *engineio.Conn, sent map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, msgs := range q.held {
		if len(sent) > 0 && sent[frameOffset(msgs)] {
			continue
		}
		_ = conn.Send(msgs...)
	}
	q.held = nil
	q.on.Store(false)
}

// clear forgets what was held, and goes on holding.
func (q *holdQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = nil
}

// frameOffset returns the recovery offset of an encoded broadcast: its
// last argument, if a string. It returns "" for anything else.
func frameOffset(msgs []engineio.Message) string {
	if len(msgs) == 0 {
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
