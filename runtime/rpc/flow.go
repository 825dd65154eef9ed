package rpc

import (
	"context"
	"errors"
	"io"
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

// sendCredit is a sender's view of what its peer will take, and the
// sender's side of resumption (PROTOCOL.md, "Resuming per-call streams"):
// when it keeps a log, the frames sent are kept until the peer's credit
// shows it has read them, so that after a lost connection whose session
// the server recovered, what the peer did not get is written again, in
// order, and nothing twice.
type sendCredit struct {
	mu     sync.Mutex
	credit int64
	err    error         // the stream ended: Send fails with it
	wake   chan struct{} // closed and replaced when credit grows or err is set

	// spent and granted are the cost of every message sent and the credit
	// the peer has given back (beyond the first window), both since the
	// stream opened; seq counts the frames sent (messages, and the
	// half-close or end).
	spent, granted, seq int64
	keep                bool    // keep a log: the stream can be resumed
	log                 []frame // frames the peer may not have yet, oldest first
	paused              bool    // the connection is gone: frames are logged, not written
}

// frame is one thing a sender sent: a message, or (msg nil) its last word,
// the half-close or the end, which write writes.
type frame struct {
	seq   int64
	spent int64 // the stream's spent once this frame was sent
	msg   []byte
	write func() error // for the last word
}

func newSendCredit(window int64) *sendCredit {
	return &sendCredit{credit: window, wake: make(chan struct{})}
}

// open gives the sender the window its peer granted when the stream
// opened (not counted as credit given back).
func (c *sendCredit) open(window int64) {
	c.mu.Lock()
	c.credit += window
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

// keepLog makes the sender keep what it sends until the peer has it, so
// that the stream can be resumed.
func (c *sendCredit) keepLog() {
	c.mu.Lock()
	c.keep = true
	c.mu.Unlock()
}

// send waits until there is credit, spends the cost of b and writes it
// with write, unless the connection is gone (then the log has it for the
// resumption). It fails with the stream's error once it has ended, with
// ctx's, or with write's when the stream cannot be resumed.
func (c *sendCredit) send(ctx context.Context, b []byte, write func([]byte) error) error {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if c.credit > 0 {
			break
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer c.mu.Unlock()
	cost := messageCost(b)
	c.credit -= cost
	c.spent += cost
	if err := c.sendFrameLocked(frame{msg: b}, func() error { return write(b) }); err != nil {
		c.credit += cost // not sent, and never will be: as if it had not been
		c.spent -= cost
		return err
	}
	return nil
}

// errConnectionLost is what a stream's write functions report when the
// connection is gone, and a resumable stream keeps the frame for later.
var errConnectionLost = errors.New("rpc: the connection is lost")

// last sends the stream's last word (the half-close, or the end) with
// write, or keeps it for the resumption as send does. It reports write's
// error when the stream cannot be resumed.
func (c *sendCredit) last(write func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendFrameLocked(frame{write: write}, write)
}

// sendFrameLocked numbers f, logs it if the stream keeps a log, and
// writes it unless the connection is gone. Writing under the lock keeps
// frames in the order of the log, also against a resumption writing the
// log again. A write that fails because the connection is lost pauses a
// resumable stream (the resumption writes the frame); any other failure
// takes the frame back and is reported.
func (c *sendCredit) sendFrameLocked(f frame, write func() error) error {
	c.seq++
	f.seq, f.spent = c.seq, c.spent
	if c.keep {
		c.log = append(c.log, f)
	}
	if c.paused {
		return nil
	}
	err := write()
	if err == nil {
		return nil
	}
	if c.keep && errors.Is(err, errConnectionLost) {
		c.paused = true
		return nil
	}
	c.seq--
	if c.keep {
		c.log = c.log[:len(c.log)-1]
	}
	return err
}

// grant adds credit the peer sent; the messages it has read leave the log.
func (c *sendCredit) grant(n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.grantLocked(n)
	c.mu.Unlock()
}

func (c *sendCredit) grantLocked(n int64) {
	c.credit += n
	c.granted += n
	// The peer gives back what its reader took, in order: every message
	// whose cost is within what it gave back has been read.
	i := 0
	for i < len(c.log) && c.log[i].msg != nil && c.log[i].spent <= c.granted {
		c.log[i] = frame{}
		i++
	}
	c.log = c.log[i:]
	close(c.wake)
	c.wake = make(chan struct{})
}

// pause stops writing: the connection is gone, and until resume what is
// sent is only logged. A stream without a log cannot pause.
func (c *sendCredit) pause() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keep {
		c.paused = true
	}
	return c.keep
}

// abandon gives up resuming: the log goes, and frames are written again
// as they are sent.
func (c *sendCredit) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep, c.paused, c.log = false, false, nil
}

// isPaused reports whether the stream waits for a resumption.
func (c *sendCredit) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// resumable reports whether the stream keeps a log.
func (c *sendCredit) resumable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keep
}

// resume writes again, on the connection of the recovered session, what
// the peer did not get: the frames after the received-th, given that it
// has given back granted bytes of credit in all (some of which may have
// been lost with the connection). It reports false if the log no longer
// holds them (a peer that claims less than it acknowledged).
func (c *sendCredit) resume(received, granted int64, write func([]byte) error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if granted > c.granted {
		c.grantLocked(granted - c.granted)
	}
	if received < c.seq && (len(c.log) == 0 || c.log[0].seq > received+1) {
		return false
	}
	c.paused = false
	for _, f := range c.log {
		if f.seq <= received {
			continue
		}
		var err error
		if f.msg != nil {
			err = write(f.msg)
		} else {
			err = f.write()
		}
		if err != nil {
			c.paused = true // lost again: the next resumption writes it
			return true
		}
	}
	return true
}

// end makes every later send fail with err.
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
	// received counts the frames the peer sent that arrived (messages and
	// its half-close); granted, the credit given back in all, of which
	// announced has been sent to the peer or reported by a resumption.
	// While held (the connection is gone), credit is given back but not
	// announced: a resumption reports it, in one figure.
	received, granted, announced int64
	held                         bool
	err                          error // io.EOF once the peer half-closed; the failure otherwise
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
	q.received++
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

// closedByPeer ends the queue with io.EOF for the peer's half-close, a
// frame it counts.
func (q *recvQueue) closedByPeer() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.received++
		q.err = io.EOF
		q.signalLocked()
	}
}

// hold stops announcing credit: the connection is gone.
func (q *recvQueue) hold() {
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
}

// counts returns what a resumption reports of the incoming side, which
// announces the credit given back so far.
func (q *recvQueue) counts() (received, granted int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.announced = q.granted
	return q.received, q.granted
}

// release announces credit again once the stream has resumed, returning
// what was given back since counts and must be sent now.
func (q *recvQueue) release() (grant int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = false
	grant = q.granted - q.announced
	q.announced = q.granted
	return grant
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
				q.peer += q.consumed
				q.granted += q.consumed
				q.consumed = 0
				if !q.held {
					grant = q.granted - q.announced
					q.announced = q.granted
				}
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
