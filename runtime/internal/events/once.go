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
func Await[A any](ctx context.Context, start func(cb func(A, error)) (uint64, error), drop func(uint64) bool, timeoutErr error) (A, error) {
	type result struct {
		v   A
		err error
	}
	done := make(chan result, 1)
	id, err := start(func(v A, err error) { done <- result{v, err} })
	if err != nil {
		var zero A
		return zero, err
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		drop(id)
		var zero A
		return zero, fmt.Errorf("%w: %w", timeoutErr, ctx.Err())
	}
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
