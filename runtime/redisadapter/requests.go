package redisadapter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// ErrTimeout reports a cluster request that not every node answered. It
// is clusteradapter.ErrTimeout, which the sharded adapter returns, so that
// errors.Is holds for every Redis adapter.
var ErrTimeout = clusteradapter.ErrTimeout

// requestTable is what a node has asked the others and not yet heard back
// about in full: requests that every other node answers (fetching
// sockets, server-side emits with acks), and broadcasts whose clients'
// acks the other nodes relay. Both adapters keep one.
type requestTable struct {
	timeout time.Duration // the longest a request waits

	mu       sync.Mutex
	requests map[string]*pending
	acks     map[string]*pendingAck
}

// pending is a request waiting for the other nodes' answers.
type pending struct {
	typ       int
	remaining int // answers still expected
	sockets   []sioadapter.SocketInfo
	answers   []siopacket.Args
	done      chan struct{}
}

// pendingAck is a broadcast waiting for acks from other nodes' clients.
type pendingAck struct {
	onSent func(int)
	onAck  func(siopacket.Args)
}

func newRequestTable(timeout time.Duration) *requestTable {
	return &requestTable{timeout: timeout, requests: map[string]*pending{}, acks: map[string]*pendingAck{}}
}

// ask registers request id of type typ, which servers-1 other nodes will
// answer, calls send to publish it, and waits for every answer, for ctx or
// for the table's timeout. It returns what the answers collected, with
// ErrTimeout if some are missing.
func (t *requestTable) ask(ctx context.Context, servers, typ int, id string, send func()) ([]sioadapter.SocketInfo, []siopacket.Args, error) {
	p := &pending{typ: typ, remaining: servers - 1, done: make(chan struct{})}
	if p.remaining <= 0 {
		return nil, nil, nil
	}
	t.mu.Lock()
	t.requests[id] = p
	t.mu.Unlock()
	send()
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.remaining > 0 {
		delete(t.requests, id)
		err = fmt.Errorf("%w: %d of %d nodes answered", ErrTimeout, servers-1-p.remaining, servers-1)
	}
	return p.sockets, p.answers, err
}

// answer hands an answer to request id to record, which adds it to the
// request and reports whether it counts as one node's answer. It reports
// whether there was such a request.
func (t *requestTable) answer(id string, record func(p *pending) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.requests[id]
	if p == nil {
		return false
	}
	if record(p) {
		p.remaining--
		if p.remaining <= 0 {
			delete(t.requests, id)
			close(p.done)
		}
	}
	return true
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
