package redisstreamsadapter

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/internal/pubqueue"
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
// queued, from one goroutine (its queue's): whatever is queued while one
// round trip is under way goes out in the next, as one pipeline. Appends
// that want the entry's id wait for it; the others return at once. While
// Redis is unreachable it keeps what does not wait, up to maxBytes and
// for at most maxAge, and appends it once Redis answers again; what is
// past the bound is dropped, counted and logged. An entry whose reply is
// lost (a timeout, a broken connection) is not appended again, since
// Redis may have taken it: it counts as dropped, and reaches the other
// nodes at most once.
type publisher struct {
	rdb     redis.UniversalClient
	h       *hub          // for whether Redis is down
	timeout time.Duration // the longest one round trip may take
	q       *pubqueue.Queue[queuedEntry]
}

// queuedEntry is one XADD to make.
type queuedEntry struct {
	values map[string]any
	size   int
	// reply, if not nil, receives the entry's id or why it has none;
	// it has room for that one value.
	reply chan appendResult
}

type appendResult struct {
	id  string
	err error
}

func newPublisher(h *hub) *publisher {
	p := &publisher{rdb: h.rdb, h: h, timeout: h.opts.RequestsTimeout}
	p.q = pubqueue.New(pubqueue.Config[queuedEntry]{
		MaxBytes: h.opts.MaxQueueBytes, MaxAge: h.opts.MaxQueueAge, Batch: appendBatch,
		Size:    func(e queuedEntry) int { return e.size },
		Send:    p.flush,
		Expired: func(e queuedEntry) { e.tell(appendResult{err: errNotAppended}) },
		// The hub's count of what did not reach Redis.
		Dropped: &h.dropped, Logger: h.log, DropMessage: "redisstreamsadapter: stream entries for other nodes dropped",
	})
	return p
}

// tell gives the caller waiting for e, if any, its result.
func (e queuedEntry) tell(r appendResult) {
	if e.reply != nil {
		e.reply <- r
	}
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
	return p.add(queuedEntry{values: values, size: entrySize(values)})
}

// append queues values and waits for their entry's id, until ctx ends.
func (p *publisher) append(ctx context.Context, values map[string]any) (string, error) {
	e := queuedEntry{values: values, size: entrySize(values), reply: make(chan appendResult, 1)}
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
	switch err := p.q.Add(e); err {
	case nil:
		return nil
	case pubqueue.ErrClosed:
		p.q.Drop(1, "closed")
		return errNotAppended
	default:
		p.q.Drop(1, "queue full")
		return errQueueFull
	}
}

// queued returns how many entries and bytes the queue holds.
func (p *publisher) queued() (int, int) { return p.q.Len() }

// flush is the queue's Send: it appends batch in one round trip, unless
// Redis is known to be down.
func (p *publisher) flush(ctx context.Context, batch []queuedEntry) (int, time.Duration, bool) {
	if p.h.isDown() {
		if p.q.Closing() {
			// Close appends nothing while Redis is down.
			return 0, 0, true
		}
		// Those waiting for an id are told at once, as they are while
		// Redis is known to be down; the others wait for it.
		p.failWaiting()
		return 0, 50 * time.Millisecond, false
	}
	p.appendBatch(ctx, batch)
	return len(batch), 0, false
}

// appendBatch appends batch in one round trip and tells those waiting.
func (p *publisher) appendBatch(ctx context.Context, batch []queuedEntry) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
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
		batch[i].tell(appendResult{id: id, err: err})
	}
	if lost > 0 {
		why := "Redis refused them"
		if failed != nil {
			why = "Redis did not answer"
			p.h.failed(failed)
		} else {
			p.h.log.Warn("redisstreamsadapter: appending to the stream", "stream", o.StreamName, "err", refused)
		}
		p.q.Drop(lost, why)
	}
}

// failWaiting removes the entries whose callers wait for an id, and
// tells them Redis is down.
func (p *publisher) failWaiting() {
	removed := p.q.RemoveIf(func(e queuedEntry) bool { return e.reply != nil })
	for _, e := range removed {
		e.tell(appendResult{err: errBrokerDown})
	}
	if len(removed) > 0 {
		p.q.Drop(len(removed), "Redis is unreachable")
	}
}

// close appends what is queued, for at most flush (not at all while
// Redis is down), then stops; what is left counts as dropped.
func (p *publisher) close(flush time.Duration) {
	left := p.q.Close(flush)
	for _, e := range left {
		e.tell(appendResult{err: errNotAppended})
	}
	if len(left) > 0 {
		p.q.Drop(len(left), "closed before Redis took them")
	}
}
