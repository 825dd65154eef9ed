package events

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Once wraps a callback so that the ack path and a timer may both call it
// safely: the first call wins and stops the timer.
type Once[T any] struct {
	cb func(T, error)

	// mu guards done and timer.
	mu    sync.Mutex
	done  bool
	timer *time.Timer
}

// NewOnce returns a Once around cb.
func NewOnce[T any](cb func(T, error)) *Once[T] { return &Once[T]{cb: cb} }

// Call runs cb with (v, err) unless it already ran.
func (f *Once[T]) Call(v T, err error) {
	f.mu.Lock()
	if f.done {
		f.mu.Unlock()
		return
	}
	f.done = true
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
	f.cb(v, err)
}

// Arm calls cb with timeoutErr after d, if no call came first and
// stillPending (which should withdraw the pending ack) reports true.
func (f *Once[T]) Arm(d time.Duration, stillPending func() bool, timeoutErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	f.timer = time.AfterFunc(d, func() {
		if stillPending() {
			var zero T
			f.Call(zero, timeoutErr)
		}
	})
}

// Await starts an exchange with start, which registers the callback it is
// given and returns the ack id, and waits for the callback or ctx. When
// ctx ends first, drop withdraws the ack and the error wraps both
// timeoutErr and ctx's error.
//
// start must call the callback at most once, and never once drop has
// withdrawn it (reported true): the channel it sends on is used again by
// a later exchange when this one ends either way.
func Await[A any](ctx context.Context, start func(cb func(A, error)) (uint64, error), drop func(uint64) bool, timeoutErr error) (A, error) {
	var zero A
	pool := waitersFor[A]()
	w, _ := pool.Get().(*waiter[A])
	if w == nil {
		w = &waiter[A]{done: make(chan result[A], 1)}
		w.cb = func(v A, err error) { w.done <- result[A]{v, err} }
	}
	id, err := start(w.cb)
	if err != nil {
		// The callback may have been taken and called on the way: w is
		// not used again.
		return zero, err
	}
	select {
	case r := <-w.done:
		pool.Put(w)
		return r.v, r.err
	case <-ctx.Done():
		if drop(id) {
			pool.Put(w) // withdrawn: nothing will send on w.done
		}
		return zero, fmt.Errorf("%w: %w", timeoutErr, ctx.Err())
	}
}

// waiter is what Await waits on: a channel for the answer and the
// callback that sends on it. Kept in a pool per answer type, since making
// them was a tenth of the bytes allocated per call on both ends of an
// ack.
type waiter[A any] struct {
	done chan result[A]
	cb   func(A, error)
}

type result[A any] struct {
	v   A
	err error
}

// waiterPools holds a *sync.Pool of *waiter[A] for each A, keyed by a nil *A.
var waiterPools sync.Map

func waitersFor[A any]() *sync.Pool {
	key := any((*A)(nil))
	if p, ok := waiterPools.Load(key); ok {
		return p.(*sync.Pool)
	}
	p, _ := waiterPools.LoadOrStore(key, &sync.Pool{})
	return p.(*sync.Pool)
}

// Callback starts an exchange with start, like Await, and calls cb once
// with the answer, or with timeoutErr if none came within d (drop then
// withdraws the ack). It returns start's error, in which case cb is not
// called.
func Callback[A any](d time.Duration, cb func(A, error), start func(cb func(A, error)) (uint64, error), drop func(uint64) bool, timeoutErr error) error {
	f := NewOnce(cb)
	id, err := start(f.Call)
	if err != nil {
		return err
	}
	f.Arm(d, func() bool { return drop(id) }, timeoutErr)
	return nil
}
