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
	m  map[string]handlerList[H]
}

// handlerList holds an event's handlers. Its slices are never changed in
// place once stored (every change makes new ones), so Take can hand hs out
// without copying it.
type handlerList[H any] struct {
	hs    []H
	ids   []uint64
	once  []bool
	nOnce int
}

// On registers h for event, for one call only if once. It returns a
// function that removes it.
func (t *Handlers[H]) On(event string, h H, once bool) (off func()) {
	id := handlerIDs.Add(1)
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]handlerList[H]{}
	}
	l := t.m[event]
	l.hs = append(l.hs[:len(l.hs):len(l.hs)], h)
	l.ids = append(l.ids[:len(l.ids):len(l.ids)], id)
	l.once = append(l.once[:len(l.once):len(l.once)], once)
	if once {
		l.nOnce++
	}
	t.m[event] = l
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		l := t.m[event]
		if i := slices.Index(l.ids, id); i >= 0 {
			t.storeLocked(event, l.without(func(j int) bool { return j == i }))
		}
	}
}

// without returns a new list of the entries for which drop is false.
func (l handlerList[H]) without(drop func(i int) bool) handlerList[H] {
	var out handlerList[H]
	for i := range l.hs {
		if drop(i) {
			continue
		}
		out.hs = append(out.hs, l.hs[i])
		out.ids = append(out.ids, l.ids[i])
		out.once = append(out.once, l.once[i])
		if l.once[i] {
			out.nOnce++
		}
	}
	return out
}

func (t *Handlers[H]) storeLocked(event string, l handlerList[H]) {
	if len(l.hs) == 0 {
		delete(t.m, event)
		return
	}
	t.m[event] = l
}

// Off removes every handler of event.
func (t *Handlers[H]) Off(event string) {
	t.mu.Lock()
	delete(t.m, event)
	t.mu.Unlock()
}

// Take returns the handlers to run for one occurrence of event, removing
// the once-only ones. The caller must not modify the returned slice.
func (t *Handlers[H]) Take(event string) []H {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.m[event]
	if l.nOnce > 0 {
		t.storeLocked(event, l.without(func(i int) bool { return l.once[i] }))
	}
	return l.hs
}

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
