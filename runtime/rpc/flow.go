package rpc

import (
	"context"
	"sync"
)

// Flow control of per-call streams (PROTOCOL.md, "Flow control"): each
// receiver grants its sender a window of bytes; a message costs its length
// plus messageOverhead, and may be sent while the sender's credit is
// positive. The receiver gives credit back as its reader takes messages,
// so what one stream buffers is bounded on both ends whatever the peer
// does: by the window plus one message.

// DefaultStreamWindow is the receive window of a per-call stream, in bytes,
// on both sides.
const DefaultStreamWindow = 256 << 10

// messageOverhead is what a message costs beyond its bytes, so that empty
// messages are not free.
const messageOverhead = 32

func messageCost(b []byte) int64 { return int64(len(b)) + messageOverhead }

// sendCredit is a sender's view of what its peer will take.
type sendCredit struct {
	mu     sync.Mutex
	credit int64
	err    error         // the stream ended: Send fails with it
	wake   chan struct{} // closed and replaced when credit grows or err is set
}

func newSendCredit(window int64) *sendCredit {
	return &sendCredit{credit: window, wake: make(chan struct{})}
}

// take waits until there is credit, then spends the cost of b. It fails
// with the stream's error once it has ended, or with ctx's.
func (c *sendCredit) take(ctx context.Context, b []byte) error {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if c.credit > 0 {
			c.credit -= messageCost(b)
			c.mu.Unlock()
			return nil
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// grant adds credit the peer sent.
func (c *sendCredit) grant(n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.credit += n
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

// end makes every later take fail with err.
func (c *sendCredit) end(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.wake)
		c.wake = make(chan struct{})
	}
	c.mu.Unlock()
}

// recvQueue holds what a stream's peer sent until the reader takes it,
// never more than the window it was granted.
type recvQueue struct {
	window int64

	mu       sync.Mutex
	msgs     [][]byte
	peer     int64 // the sender's credit, as this side counts it
	consumed int64 // taken by the reader since the last grant
	err      error // io.EOF once the peer half-closed; the failure otherwise
	// wake holds a token when msgs or err may have changed: a token, not a
	// closed channel, so that a message costs no allocation.
	wake chan struct{}
}

func newRecvQueue(window int64) *recvQueue {
	return &recvQueue{window: window, peer: window, wake: make(chan struct{}, 1)}
}

// errOverCredit is what push reports for a message beyond the window.
var errOverCredit = Errorf(CodeResourceExhausted, "the peer sent beyond the stream's flow-control window")

// push queues a message from the peer. It reports errOverCredit, queuing
// nothing, for one the peer had no credit to send, and ignores messages
// after the end.
func (q *recvQueue) push(b []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return nil
	}
	if q.peer <= 0 {
		return errOverCredit
	}
	q.peer -= messageCost(b)
	q.msgs = append(q.msgs, b)
	q.signalLocked()
	return nil
}

// finish ends the queue: with io.EOF when the peer half-closed or ended
// cleanly, with a failure otherwise. What is queued is still read first,
// as gRPC delivers the messages that came before a status.
func (q *recvQueue) finish(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
		q.signalLocked()
	}
}

func (q *recvQueue) signalLocked() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next message. grant, if positive, is credit the
// caller must send back to the peer: half the window is given back at a
// time, so that credit messages stay few.
func (q *recvQueue) pop(ctx context.Context) (b []byte, grant int64, err error) {
	for {
		q.mu.Lock()
		if len(q.msgs) > 0 {
			b = q.msgs[0]
			q.msgs[0] = nil
			q.msgs = q.msgs[1:]
			q.consumed += messageCost(b)
			if q.consumed >= q.window/2 && q.err == nil {
				grant = q.consumed
				q.peer += grant
				q.consumed = 0
			}
			if len(q.msgs) > 0 || q.err != nil {
				q.signalLocked() // for another reader
			}
			q.mu.Unlock()
			return b, grant, nil
		}
		if q.err != nil {
			err := q.err
			q.signalLocked() // every reader sees the end
			q.mu.Unlock()
			return nil, 0, err
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}
