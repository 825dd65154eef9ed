package redisstreamsadapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the append queue.
const (
	defaultMaxQueueBytes = 8 << 20
	defaultMaxQueueAge   = 10 * time.Second
	// appendBatch is the most entries appended in one round trip.
	appendBatch = 256
	// entryOverhead is what an entry costs the queue beyond its fields'
	// bytes, so that a flood of tiny entries is bounded too.
	entryOverhead = 64
)

// errQueueFull is what an append returns when the queue is at its bound.
var errQueueFull = errors.New("redisstreamsadapter: the append queue is full")

// errNotAppended is what a waiting append gets when its entry was given
// up: too old, or the server closed first.
var errNotAppended = errors.New("redisstreamsadapter: the entry was not appended")

// publisher appends a server's stream entries, in the order they were
// queued, from one goroutine: whatever is queued while one round trip is
// under way goes out in the next, as one pipeline. Appends that want the
// entry's id wait for it; the others return at once. While Redis is
// unreachable it keeps what does not wait, up to maxBytes and for at
// most maxAge, and appends it once Redis answers again; what is past the
// bound is dropped, counted and logged. An entry whose reply is lost (a
// timeout, a broken connection) is not appended again, since Redis may
// have taken it: it counts as dropped, and reaches the other nodes at
// most once.
type publisher struct {
	rdb      redis.UniversalClient
	h        *hub // for whether Redis is down
	maxBytes int
	maxAge   time.Duration
	timeout  time.Duration // the longest one round trip may take
	log      *slog.Logger
	ctx      context.Context // ends when close gives up on the queue
	cancel   context.CancelFunc

	dropped *atomic.Uint64 // the hub's count of what did not reach Redis

	// mu guards queue, bytes, closing and lastLog.
	mu      sync.Mutex
	queue   []queuedEntry // oldest first; the head is being appended
	bytes   int
	closing bool
	lastLog time.Time // when drops were last logged

	wake chan struct{} // one token: the queue has something
	stop chan struct{} // closed to make run give up
	done chan struct{} // closed when run returns
}

// queuedEntry is one XADD to make.
type queuedEntry struct {
	values map[string]any
	size   int
	at     time.Time
	// reply, if not nil, receives the entry's id or why it has none;
	// it has room for that one value.
	reply chan appendResult
}

type appendResult struct {
	id  string
	err error
}

func newPublisher(h *hub) *publisher {
	p := &publisher{
		rdb: h.rdb, h: h, maxBytes: h.opts.MaxQueueBytes, maxAge: h.opts.MaxQueueAge, timeout: h.opts.RequestsTimeout,
		log: h.log, dropped: &h.dropped,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background()) //sio:root-context: the queue outlives every caller
	go p.run()
	return p
}

// entrySize is what values cost the queue.
func entrySize(values map[string]any) int {
	n := entryOverhead
	for k, v := range values {
		n += len(k)
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return n
}

// enqueue queues values and returns at once; an error means they will
// not be appended.
func (p *publisher) enqueue(values map[string]any) error {
	return p.add(queuedEntry{values: values, size: entrySize(values), at: time.Now()})
}

// append queues values and waits for their entry's id, until ctx ends.
func (p *publisher) append(ctx context.Context, values map[string]any) (string, error) {
	e := queuedEntry{values: values, size: entrySize(values), at: time.Now(), reply: make(chan appendResult, 1)}
	if err := p.add(e); err != nil {
		return "", err
	}
	select {
	case r := <-e.reply:
		return r.id, r.err
	case <-ctx.Done():
		// The entry may still be appended, in its place: it then reaches
		// the other nodes, and this node's clients get it without an
		// offset.
		return "", ctx.Err()
	}
}

func (p *publisher) add(e queuedEntry) error {
	p.mu.Lock()
	if p.closing || p.bytes+e.size > p.maxBytes {
		closing := p.closing
		p.mu.Unlock()
		if closing {
			p.drop(1, "closed")
			return errNotAppended
		}
		p.drop(1, "queue full")
		return errQueueFull
	}
	p.queue = append(p.queue, e)
	p.bytes += e.size
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// queued returns how many entries and bytes the queue holds.
func (p *publisher) queued() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue), p.bytes
}

// drop counts n lost entries and logs, at most every few seconds.
func (p *publisher) drop(n int, why string) {
	total := p.dropped.Add(uint64(n))
	p.mu.Lock()
	now := time.Now()
	logIt := now.Sub(p.lastLog) > 5*time.Second
	if logIt {
		p.lastLog = now
	}
	p.mu.Unlock()
	if logIt {
		p.log.Warn("redisstreamsadapter: stream entries for other nodes dropped", "reason", why, "dropped", n, "total", total)
	}
}

// run appends the queue until close.
func (p *publisher) run() {
	defer close(p.done)
	for {
		p.expire()
		p.mu.Lock()
		batch := p.queue[:min(len(p.queue), appendBatch):min(len(p.queue), appendBatch)]
		closing := p.closing
		p.mu.Unlock()
		if len(batch) == 0 {
			if closing {
				return
			}
			select {
			case <-p.wake:
			case <-p.stop:
				return
			}
			continue
		}
		if p.h.isDown() {
			if closing {
				return
			}
			// Those waiting for an id are told at once, as they are
			// while Redis is known to be down; the others wait for it.
			p.failWaiting()
			if !p.sleep(50 * time.Millisecond) {
				return
			}
			continue
		}
		p.appendBatch(batch)
		p.pop(len(batch))
	}
}

// appendBatch appends batch in one round trip and tells those waiting.
func (p *publisher) appendBatch(batch []queuedEntry) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(batch))
	o := p.h.opts
	for i, e := range batch {
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: o.StreamName, MaxLen: o.MaxLen, Approx: true, Values: e.values})
	}
	_, _ = pipe.Exec(ctx)
	lost, failed, refused := 0, error(nil), error(nil)
	for i, c := range cmds {
		id, err := c.Result()
		if err != nil {
			lost++
			if refused == nil {
				refused = err
			}
			var reply redis.Error
			if !errors.As(err, &reply) {
				// No answer: Redis may have taken the entry, so it is
				// not tried again.
				failed = err
			}
		}
		if batch[i].reply != nil {
			batch[i].reply <- appendResult{id: id, err: err}
		}
	}
	if lost > 0 {
		why := "Redis refused them"
		if failed != nil {
			why = "Redis did not answer"
			p.h.failed(failed)
		} else {
			p.log.Warn("redisstreamsadapter: appending to the stream", "stream", o.StreamName, "err", refused)
		}
		p.drop(lost, why)
	}
}

// pop removes the n entries at the head of the queue.
func (p *publisher) pop(n int) {
	p.mu.Lock()
	for _, e := range p.queue[:n] {
		p.bytes -= e.size
	}
	clear(p.queue[:n])
	p.queue = p.queue[n:]
	if len(p.queue) == 0 {
		p.queue = nil // let the array go
	}
	p.mu.Unlock()
}

// expire drops the entries older than maxAge.
func (p *publisher) expire() {
	threshold := time.Now().Add(-p.maxAge)
	p.mu.Lock()
	n := 0
	for n < len(p.queue) && p.queue[n].at.Before(threshold) {
		n++
	}
	expired := p.queue[:n:n]
	p.mu.Unlock()
	if n == 0 {
		return
	}
	for _, e := range expired {
		if e.reply != nil {
			e.reply <- appendResult{err: errNotAppended}
		}
	}
	p.pop(n)
	p.drop(n, "older than the queue's bound")
}

// failWaiting removes the entries whose callers wait for an id, and
// tells them Redis is down.
func (p *publisher) failWaiting() {
	p.mu.Lock()
	kept := p.queue[:0]
	n := 0
	for _, e := range p.queue {
		if e.reply == nil {
			kept = append(kept, e)
			continue
		}
		e.reply <- appendResult{err: errBrokerDown}
		p.bytes -= e.size
		n++
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	p.mu.Unlock()
	if n > 0 {
		p.drop(n, "Redis is unreachable")
	}
}

// sleep waits d, or less when stopped; it reports whether it was not.
func (p *publisher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stop:
		return false
	}
}

// close appends what is queued, for at most flush (not at all while
// Redis is down), then stops; what is left counts as dropped.
func (p *publisher) close(flush time.Duration) {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(flush)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		close(p.stop)
		p.cancel()
		<-p.done
	}
	p.cancel()
	p.mu.Lock()
	left := p.queue
	p.queue, p.bytes = nil, 0
	p.mu.Unlock()
	for _, e := range left {
		if e.reply != nil {
			e.reply <- appendResult{err: errNotAppended}
		}
	}
	if len(left) > 0 {
		p.drop(len(left), "closed before Redis took them")
	}
}
