// Package pubqueue is the bounded, ordered queue between an adapter and
// its broker: callers add messages and return at once, and one goroutine
// hands them to the broker, oldest first, in batches.
//
// The queue exists so that local delivery never waits for the broker.
// While the broker is slow or away, what is added waits, up to a bound in
// bytes and for at most a given age; past that bound it is dropped,
// counted and logged, never blocking the caller. What to do with a batch
// (how to send it, when the broker counts as down, how long to wait
// before trying again) is the adapter's: it is the Send function of
// Config, called on the queue's goroutine alone.
package pubqueue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is what Add returns when the item would take the queue past its
// bound in bytes.
var ErrFull = errors.New("pubqueue: the queue is full")

// ErrClosed is what Add returns once Close has been called.
var ErrClosed = errors.New("pubqueue: the queue is closed")

// logEvery is the least time between two logs of dropped items, so that
// an outage logs every few seconds, not per message.
const logEvery = 5 * time.Second

// Config says what a queue holds, its bound, and where its items go.
type Config[T any] struct {
	// MaxBytes bounds the sum of Size over the queued items, those being
	// sent included.
	MaxBytes int
	// MaxAge is the longest an item waits: older ones are dropped before
	// each batch is taken.
	MaxAge time.Duration
	// Batch is the most items one call of Send gets.
	Batch int
	// Size is what an item costs the queue.
	Size func(T) int
	// Send hands batch, the oldest items, to the broker. It runs on the
	// queue's goroutine, one call at a time, and must not keep batch;
	// ctx ends when Close stops waiting for the queue to empty. It
	// returns how many items of batch, from the start, are done with
	// (sent, or given up), which leave the queue; how long to wait
	// before the next batch (0 for at once); and whether to stop,
	// leaving what is queued to Close (only once ctx has ended or the
	// queue is Closing: a stopped queue still takes items, and sends
	// none). A Send that calls RemoveIf must return done 0: the head of
	// the queue may no longer be batch.
	Send func(ctx context.Context, batch []T) (done int, wait time.Duration, stop bool)
	// Expired, if not nil, is told of each item dropped for its age,
	// after it has left the queue.
	Expired func(T)
	// Dropped counts every item dropped through Drop. It may be shared
	// with other counts of what did not reach the broker.
	Dropped *atomic.Uint64
	// Logger receives a warning when items are dropped, at most every
	// few seconds.
	Logger *slog.Logger
	// DropMessage is that warning's message; its attributes are reason,
	// dropped (how many this time) and total (the counter's value).
	DropMessage string
}

// Queue is a bounded FIFO drained by a goroutine of its own. Its methods
// may be called concurrently; New starts the goroutine and Close stops
// it.
type Queue[T any] struct {
	cfg Config[T]
	ctx context.Context // ends when Close gives up on the queue
	// cancel ends ctx: it stops the goroutine's waits and, through ctx,
	// what Send has under way.
	cancel context.CancelFunc

	// mu guards items, bytes, closing and lastLog.
	mu      sync.Mutex
	items   []entry[T] // oldest first; the head is being sent
	bytes   int
	closing bool
	lastLog time.Time // when drops were last logged

	wake  chan struct{} // one token: the queue has something, or closes
	done  chan struct{} // closed when the goroutine returns
	batch []T           // what Send gets, reused; the goroutine's own
}

// entry is a queued item with what the queue needs to know of it.
type entry[T any] struct {
	item T
	size int       // Size(item), once
	at   time.Time // when it was added, for MaxAge
}

// New returns an empty queue and starts its goroutine.
func New[T any](cfg Config[T]) *Queue[T] {
	q := &Queue[T]{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.ctx, q.cancel = context.WithCancel(context.Background()) //sio:root-context: the queue outlives every caller
	go q.run()
	return q
}

// Add queues item and returns at once. It returns ErrClosed after Close
// and ErrFull if the item does not fit; it counts nothing then, so that
// the caller says why in its own words (Drop).
func (q *Queue[T]) Add(item T) error {
	e := entry[T]{item: item, size: q.cfg.Size(item), at: time.Now()}
	q.mu.Lock()
	switch {
	case q.closing:
		q.mu.Unlock()
		return ErrClosed
	case q.bytes+e.size > q.cfg.MaxBytes:
		q.mu.Unlock()
		return ErrFull
	}
	q.items = append(q.items, e)
	q.bytes += e.size
	q.mu.Unlock()
	q.poke()
	return nil
}

// poke wakes the goroutine if it waits; a token already there will do.
func (q *Queue[T]) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Len returns how many items the queue holds and what they cost, those
// being sent included.
func (q *Queue[T]) Len() (items, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes
}

// Items returns a copy of what the queue holds, oldest first.
func (q *Queue[T]) Items() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]T, len(q.items))
	for i, e := range q.items {
		out[i] = e.item
	}
	return out
}

// Closing reports whether Close has been called.
func (q *Queue[T]) Closing() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closing
}

// RemoveIf takes the items for which remove is true out of the queue,
// keeping the order of the others, and returns them, uncounted. It is
// meant for Send, which must then report done 0.
func (q *Queue[T]) RemoveIf(remove func(T) bool) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	var removed []T
	kept := q.items[:0]
	for _, e := range q.items {
		if !remove(e.item) {
			kept = append(kept, e)
			continue
		}
		removed = append(removed, e.item)
		q.bytes -= e.size
	}
	clear(q.items[len(kept):])
	q.items = kept
	return removed
}

// Drop counts n lost items and logs why, at most every few seconds.
func (q *Queue[T]) Drop(n int, why string) {
	total := q.cfg.Dropped.Add(uint64(n))
	q.mu.Lock()
	now := time.Now()
	logIt := now.Sub(q.lastLog) > logEvery
	if logIt {
		q.lastLog = now
	}
	q.mu.Unlock()
	if logIt {
		q.cfg.Logger.Warn(q.cfg.DropMessage, "reason", why, "dropped", n, "total", total)
	}
}

// run hands the queue to Send until Close.
func (q *Queue[T]) run() {
	defer close(q.done)
	for {
		q.expire()
		q.mu.Lock()
		n := min(len(q.items), q.cfg.Batch)
		q.batch = q.batch[:0]
		for _, e := range q.items[:n] {
			q.batch = append(q.batch, e.item)
		}
		batch, closing := q.batch, q.closing
		q.mu.Unlock()
		if len(batch) == 0 {
			if closing {
				return
			}
			select {
			case <-q.wake:
			case <-q.ctx.Done():
				return
			}
			continue
		}
		done, wait, stop := q.cfg.Send(q.ctx, batch)
		clear(batch) // keep nothing alive that has left the queue
		q.pop(done)
		if stop || wait > 0 && !q.sleep(wait) {
			return
		}
	}
}

// expire drops the items older than MaxAge, the head of the queue.
func (q *Queue[T]) expire() {
	threshold := time.Now().Add(-q.cfg.MaxAge)
	q.mu.Lock()
	var expired []T
	n := 0
	for n < len(q.items) && q.items[n].at.Before(threshold) {
		n++
	}
	if q.cfg.Expired != nil {
		for _, e := range q.items[:n] {
			expired = append(expired, e.item)
		}
	}
	q.removeHead(n)
	q.mu.Unlock()
	if n == 0 {
		return
	}
	for _, it := range expired {
		q.cfg.Expired(it)
	}
	q.Drop(n, "older than the queue's bound")
}

// pop removes the n items at the head of the queue.
func (q *Queue[T]) pop(n int) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.removeHead(n)
	q.mu.Unlock()
}

// removeHead removes the n oldest items; q.mu is held.
func (q *Queue[T]) removeHead(n int) {
	for _, e := range q.items[:n] {
		q.bytes -= e.size
	}
	clear(q.items[:n]) // let what the items point to go
	q.items = q.items[n:]
	if len(q.items) == 0 {
		q.items = nil // let the array go
	}
}

// sleep waits d, or less when Close gives up; it reports whether it was
// not.
func (q *Queue[T]) sleep(d time.Duration) bool {
	return Sleep(q.ctx, d)
}

// Sleep waits d, or less if ctx ends first; it reports whether ctx was
// still going. Send uses it for waits of its own.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close lets the queue send what it holds for at most flush, then stops
// its goroutine (ending Send's ctx) and returns what was left, uncounted:
// the caller drops it in its own words. Close may be called more than
// once; later calls return nothing.
func (q *Queue[T]) Close(flush time.Duration) []T {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.poke()
	t := time.NewTimer(flush)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
		q.cancel()
		<-q.done
	}
	q.cancel()
	q.mu.Lock()
	left := make([]T, len(q.items))
	for i, e := range q.items {
		left[i] = e.item
	}
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	return left
}
