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
	t      *ackTable[A] // made on first use
	closed bool
}

// ackTable holds the pending acks. The ids Add gives are consecutive and
// most acks come back soon, in about the order they went, so an ack
// lives in a ring, in the slot its id picks: a map's insert and delete
// took twice as long, 3.5% of a client's time per call. The ring doubles
// when an id's slot is still taken, up to maxAckRing; past that the older
// ack moves to more, as do those Set with ids of the caller's.
type ackTable[A any] struct {
	ring []ackSlot[A] // a power of two long
	more map[uint64]func(A, error)
}

type ackSlot[A any] struct {
	id uint64
	cb func(A, error) // nil: the slot is free
}

// Bounds of an ackTable's ring: 16 slots are 256 bytes, which a socket
// holds once it has waited for an ack.
const (
	minAckRing = 16
	maxAckRing = 1024
)

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
	tab := t.tableLocked()
	slot := &tab.ring[id&uint64(len(tab.ring)-1)]
	for slot.cb != nil {
		tab.makeRoom(slot)
		slot = &tab.ring[id&uint64(len(tab.ring)-1)]
	}
	*slot = ackSlot[A]{id, cb}
	return id, true
}

// makeRoom frees slot, doubling the ring while it is short, and moving
// the older ack in the slot to more once it is not.
func (tab *ackTable[A]) makeRoom(slot *ackSlot[A]) {
	if len(tab.ring) < maxAckRing {
		old := tab.ring
		tab.ring = make([]ackSlot[A], 2*len(old))
		for _, e := range old {
			if e.cb != nil {
				tab.put(e)
			}
		}
		return
	}
	tab.keep(slot.id, slot.cb)
	*slot = ackSlot[A]{}
}

// put places e in the ring, moving any ack in its slot to more.
func (tab *ackTable[A]) put(e ackSlot[A]) {
	slot := &tab.ring[e.id&uint64(len(tab.ring)-1)]
	if slot.cb != nil {
		tab.keep(slot.id, slot.cb)
	}
	*slot = e
}

func (tab *ackTable[A]) keep(id uint64, cb func(A, error)) {
	if tab.more == nil {
		tab.more = map[uint64]func(A, error){}
	}
	tab.more[id] = cb
}

func (t *Acks[A]) tableLocked() *ackTable[A] {
	if t.t == nil {
		t.t = &ackTable[A]{ring: make([]ackSlot[A], minAckRing)}
	}
	return t.t
}

// Set registers cb under id, chosen by the caller (broadcast acks),
// replacing any callback pending under id.
func (t *Acks[A]) Set(id uint64, cb func(A, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		tab := t.tableLocked()
		tab.take(id)
		tab.keep(id, cb)
	}
}

// take removes and returns the callback for id, nil if none is pending.
func (tab *ackTable[A]) take(id uint64) func(A, error) {
	if slot := &tab.ring[id&uint64(len(tab.ring)-1)]; slot.cb != nil && slot.id == id {
		cb := slot.cb
		*slot = ackSlot[A]{}
		return cb
	}
	if cb, ok := tab.more[id]; ok {
		delete(tab.more, id)
		return cb
	}
	return nil
}

// Take removes and returns the callback for id, nil if none is pending.
func (t *Acks[A]) Take(id uint64) func(A, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return nil
	}
	return t.t.take(id)
}

// Drop removes the callback for id, reporting whether it was pending.
func (t *Acks[A]) Drop(id uint64) bool { return t.Take(id) != nil }

// Fail calls every pending callback with err and empties the table; with
// closeTable, later Adds are refused.
func (t *Acks[A]) Fail(err error, closeTable bool) {
	t.mu.Lock()
	tab := t.t
	t.t = nil
	t.closed = t.closed || closeTable
	t.mu.Unlock()
	if tab == nil {
		return
	}
	var zero A
	for _, e := range tab.ring {
		if e.cb != nil {
			e.cb(zero, err)
		}
	}
	for _, cb := range tab.more {
		cb(zero, err)
	}
}
