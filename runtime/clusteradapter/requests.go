package clusteradapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// ErrTimeout reports a cluster request that not every node answered in
// time; what the others answered is returned with it.
var ErrTimeout = errors.New("clusteradapter: request timed out")

// requestTable is what a node has asked the others and not yet heard back
// about in full: requests every other node answers (fetching sockets,
// server-side emits with answers), and broadcasts whose clients' acks the
// other nodes relay.
type requestTable struct {
	timeout time.Duration // the longest a request waits

	// mu guards requests and acks.
	mu       sync.Mutex
	requests map[string]*pending
	acks     map[string]*pendingAck
}

// pending is a request waiting for the other nodes' answers. Without
// heartbeats it waits for a number of answers; with them, for the nodes
// it knew of when asked, and a node that leaves meanwhile is not waited
// for.
type pending struct {
	typ       MessageType
	expected  int             // answers asked for
	remaining int             // answers still expected (without heartbeats)
	missing   map[string]bool // nodes yet to answer (with heartbeats)
	sockets   []sioadapter.SocketInfo
	answers   []siopacket.Args
	done      chan struct{}
}

func (p *pending) complete() bool {
	if p.missing != nil {
		return len(p.missing) == 0
	}
	return p.remaining <= 0
}

// pendingAck is a broadcast waiting for acks from other nodes' clients.
type pendingAck struct {
	onSent func(int)
	onAck  func(siopacket.Args)
}

func newRequestTable(timeout time.Duration) *requestTable {
	return &requestTable{timeout: timeout, requests: map[string]*pending{}, acks: map[string]*pendingAck{}}
}

// ask registers request id, which either the nodes named in nodes answer
// (heartbeats) or, with nodes nil, count other nodes do; calls send to
// publish it; and waits for every answer, for ctx or for timeout (the
// table's if zero). It returns what the answers collected, with
// ErrTimeout if some are missing.
func (t *requestTable) ask(ctx context.Context, typ MessageType, id string, count int, nodes []string, timeout time.Duration, send func()) ([]sioadapter.SocketInfo, []siopacket.Args, error) {
	p := &pending{typ: typ, expected: count, remaining: count, done: make(chan struct{})}
	if nodes != nil {
		p.expected = len(nodes)
		p.missing = make(map[string]bool, len(nodes))
		for _, uid := range nodes {
			p.missing[uid] = true
		}
	}
	if p.complete() {
		return nil, nil, nil
	}
	t.mu.Lock()
	t.requests[id] = p
	t.mu.Unlock()
	send()
	if timeout <= 0 {
		timeout = t.timeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !p.complete() {
		delete(t.requests, id)
		missing := p.remaining
		if p.missing != nil {
			missing = len(p.missing)
		}
		return p.sockets, p.answers, fmt.Errorf("%w: %d of %d nodes answered", ErrTimeout, p.expected-missing, p.expected)
	}
	return p.sockets, p.answers, nil
}

// answer hands node from's answer to request id to record, which adds it
// to the request and reports whether it counts as an answer.
func (t *requestTable) answer(id, from string, record func(p *pending) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.requests[id]
	if p == nil {
		return
	}
	if p.missing != nil && !p.missing[from] {
		return // a node not asked, or a second answer
	}
	if !record(p) {
		return
	}
	if p.missing != nil {
		delete(p.missing, from)
	} else {
		p.remaining--
	}
	if p.complete() {
		delete(t.requests, id)
		close(p.done)
	}
}

// forget stops every request waiting for node uid, which has left.
func (t *requestTable) forget(uid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, p := range t.requests {
		if p.missing == nil || !p.missing[uid] {
			continue
		}
		delete(p.missing, uid)
		if p.complete() {
			delete(t.requests, id)
			close(p.done)
		}
	}
}

// addAck registers the callbacks of broadcast id for timeout, or the
// table's timeout if that is zero: no node can know when every client
// has answered, so the entry simply expires.
func (t *requestTable) addAck(id string, onSent func(int), onAck func(siopacket.Args), timeout time.Duration) {
	if timeout <= 0 {
		timeout = t.timeout
	}
	t.mu.Lock()
	t.acks[id] = &pendingAck{onSent: onSent, onAck: onAck}
	t.mu.Unlock()
	time.AfterFunc(timeout, func() {
		t.mu.Lock()
		delete(t.acks, id)
		t.mu.Unlock()
	})
}

// ack returns the callbacks of broadcast id, or nil.
func (t *requestTable) ack(id string) *pendingAck {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acks[id]
}
