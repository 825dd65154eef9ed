package engineio

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Session timers. Every session has one deadline at a time (its next ping,
// its pong deadline, or its close deadline), and a runtime timer per
// session costs about 140 bytes of every idle connection (the timer, its
// callback). So the deadlines live in a few shared heaps instead, each
// with one runtime timer set for its earliest deadline; a session holds
// only its place in its heap. A session's deadline moves once per
// heartbeat, not per message, so the heaps' locks are seldom taken.

// timerShards is how many heaps share the sessions: enough that sessions
// on different cores seldom meet on one lock.
const timerShards = 8

// timerEpoch is the origin of the heaps' monotonic clock.
var timerEpoch = time.Now()

// sinceEpoch returns t on the heaps' clock, in nanoseconds.
func sinceEpoch(t time.Time) int64 { return int64(t.Sub(timerEpoch)) }

// sessionTimers are the heaps; nextTimerShard spreads sessions over them.
var (
	sessionTimers  [timerShards]timerHeap
	nextTimerShard atomic.Uint32
)

// sessionTimer is a session's place in the heaps. Its zero value has no
// deadline, in the first heap.
type sessionTimer struct {
	shard uint8
	// pos is the session's index in its heap plus one, 0 when it has no
	// deadline; guarded by the heap's mu.
	pos int32
}

// timerEntry is a deadline in a heap.
type timerEntry struct {
	when int64 // on the heaps' clock
	c    *Conn
}

// timerHeap is a min-heap of deadlines, and the runtime timer that fires at
// the earliest.
type timerHeap struct {
	mu      sync.Mutex
	entries []timerEntry
	timer   *time.Timer
	armed   int64 // when timer fires; math.MaxInt64 when it is stopped
	due     []*Conn
}

// initTimer spreads sessions over the heaps; it runs before the
// session's first deadline.
func (c *Conn) initTimer() {
	c.timer.shard = uint8(nextTimerShard.Add(1) % timerShards)
}

// setTimer makes at the session's one deadline, replacing any other: then
// onTimer runs, on a goroutine of its own.
func (c *Conn) setTimer(at time.Time) {
	h := &sessionTimers[c.timer.shard]
	when := sinceEpoch(at)
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := int(c.timer.pos) - 1; i >= 0 {
		h.entries[i].when = when
		if !h.down(i) {
			h.up(i)
		}
	} else {
		h.entries = append(h.entries, timerEntry{when: when, c: c})
		c.timer.pos = int32(len(h.entries))
		h.up(len(h.entries) - 1)
	}
	h.armLocked()
}

// stopTimer clears the session's deadline.
func (c *Conn) stopTimer() {
	h := &sessionTimers[c.timer.shard]
	h.mu.Lock()
	defer h.mu.Unlock()
	i := int(c.timer.pos) - 1
	if i < 0 {
		return
	}
	last := len(h.entries) - 1
	if i != last {
		h.swap(i, last)
	}
	h.entries[last] = timerEntry{}
	h.entries = h.entries[:last]
	c.timer.pos = 0
	if i != last && !h.down(i) {
		h.up(i)
	}
	// The runtime timer stays set: firing early with nothing due costs a
	// wake-up, resetting it on every close would cost more.
}

// armLocked sets the runtime timer for the earliest deadline, if it is
// not set for that or earlier already.
func (h *timerHeap) armLocked() {
	if len(h.entries) == 0 {
		return
	}
	when := h.entries[0].when
	if h.timer != nil && when >= h.armed {
		return
	}
	d := time.Duration(when - sinceEpoch(time.Now()))
	h.armed = when
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
		return
	}
	h.timer.Reset(d)
}

// fire runs when a heap's runtime timer fires: it takes every deadline
// that has come out of the heap, sets the timer for the next one, and
// runs the sessions' onTimer.
func (h *timerHeap) fire() {
	h.mu.Lock()
	now := sinceEpoch(time.Now())
	due := h.due[:0]
	for len(h.entries) > 0 && h.entries[0].when <= now {
		c := h.entries[0].c
		last := len(h.entries) - 1
		h.swap(0, last)
		h.entries[last] = timerEntry{}
		h.entries = h.entries[:last]
		h.down(0)
		c.timer.pos = 0
		due = append(due, c)
	}
	h.armed = math.MaxInt64
	h.armLocked()
	// Each session's onTimer may close it and run the application's close
	// handler: one must not hold up the others.
	for _, c := range due {
		go c.onTimer()
	}
	clear(due)
	if cap(due) > 1024 {
		due = nil // a burst's slice is not kept
	}
	h.due = due
	h.mu.Unlock()
}

func (h *timerHeap) less(i, j int) bool { return h.entries[i].when < h.entries[j].when }

func (h *timerHeap) swap(i, j int) {
	e := h.entries
	e[i], e[j] = e[j], e[i]
	e[i].c.timer.pos = int32(i + 1)
	e[j].c.timer.pos = int32(j + 1)
}

func (h *timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down moves entry i towards the leaves and reports whether it moved.
func (h *timerHeap) down(i int) bool {
	start, n := i, len(h.entries)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > start
}
