// Package events holds what the Socket.IO server and client sockets share:
// a table of event handlers, a table of pending acks, and a callback that
// runs once, on the ack or on a timeout.
package events

import (
	"slices"
	"sync"
	"sync/atomic"
)

var handlerIDs atomic.Uint64

// Handlers maps event names to handlers of type H. It is safe for
// concurrent use.
type Handlers[H any] struct {
	mu sync.Mutex
	// m holds each event's entries. A stored slice is never changed in
	// place (every change stores a new one), so Take hands it out as is.
	m map[string][]Entry[H]
}

// Entry is one registered handler.
type Entry[H any] struct {
	H    H // the handler
	once bool
	id   uint64
}

// On registers h for event, for one call only if once. It returns a
// function that removes it.
func (t *Handlers[H]) On(event string, h H, once bool) (off func()) {
	id := handlerIDs.Add(1)
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string][]Entry[H]{}
	}
	hs := t.m[event]
	t.m[event] = append(hs[:len(hs):len(hs)], Entry[H]{h, once, id})
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.storeLocked(event, slices.DeleteFunc(slices.Clone(t.m[event]), func(e Entry[H]) bool { return e.id == id }))
	}
}

func (t *Handlers[H]) storeLocked(event string, hs []Entry[H]) {
	if len(hs) == 0 {
		delete(t.m, event)
		return
	}
	t.m[event] = hs
}

// Off removes every handler of event.
func (t *Handlers[H]) Off(event string) {
	t.mu.Lock()
	delete(t.m, event)
	t.mu.Unlock()
}

// Take returns the handlers to run for one occurrence of event, removing
// the once-only ones. The caller must not modify the returned slice.
func (t *Handlers[H]) Take(event string) []Entry[H] {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := t.m[event]
	if slices.ContainsFunc(hs, isOnce[H]) {
		t.storeLocked(event, slices.DeleteFunc(slices.Clone(hs), isOnce[H]))
	}
	return hs
}

func isOnce[H any](e Entry[H]) bool { return e.once }

// Acks holds the callbacks of acks a socket is waiting for. It is safe for
// concurrent use.
type Acks[A any] struct {
	mu     sync.Mutex
	next   uint64
	m      map[uint64]func(A, error)
	closed bool
}

// Add registers cb under a fresh id. It reports false once the table is
// closed.
func (t *Acks[A]) Add(cb func(A, error)) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, false
	}
	id := t.next
	t.next++
	t.setLocked(id, cb)
	return id, true
}

// Set registers cb under id, chosen by the caller (broadcast acks).
func (t *Acks[A]) Set(id uint64, cb func(A, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.setLocked(id, cb)
	}
}

func (t *Acks[A]) setLocked(id uint64, cb func(A, error)) {
	if t.m == nil {
		t.m = map[uint64]func(A, error){}
	}
	t.m[id] = cb
}

// Take removes and returns the callback for id, nil if none is pending.
func (t *Acks[A]) Take(id uint64) func(A, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cb := t.m[id]
	delete(t.m, id)
	return cb
}

// Drop removes the callback for id, reporting whether it was pending.
func (t *Acks[A]) Drop(id uint64) bool { return t.Take(id) != nil }

// Fail calls every pending callback with err and empties the table; with
// closeTable, later Adds are refused.
func (t *Acks[A]) Fail(err error, closeTable bool) {
	t.mu.Lock()
	pending := t.m
	t.m = nil
	t.closed = t.closed || closeTable
	t.mu.Unlock()
	var zero A
	for _, cb := range pending {
		cb(zero, err)
	}
}
