package rpc

import (
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/internal/workers"
)

// A socket's unary calls and subscriptions run one after another on one
// worker, the socket's lane, for as long as each finishes within
// laneBudget: a call that arrives while the lane's worker is busy with a
// call begun less than laneBudget ago waits in the lane rather than wake
// a worker of its own. Under load that is most calls, and a worker taking
// the next call of its socket costs a lock where handing each call to a
// parked worker cost two goroutine switches, and one of hundreds of
// worker stacks to bring back into the CPU's caches.
//
// A call that runs on past laneBudget does not hold the others back
// longer: the server's lane watcher, which looks every laneBudget while
// some lane has calls waiting, finds a lane whose current call is the same
// at two looks, hands out the calls waiting behind it to workers of their
// own, and marks the lane slow, so that calls arriving while that call
// runs get workers of their own too. So a slow handler delays the
// socket's other calls by at most about twice laneBudget, and never
// stalls them. Per-call streams, which run for long, always get a worker
// of their own. (The watcher counts calls rather than read the clock:
// reading it twice per call was 4% of the server's time.)

// laneBudget is how long a lane's current call may run before the calls
// waiting behind it go to workers of their own.
const laneBudget = time.Millisecond

// maxLaneWaiting bounds the calls waiting in one lane; more go to workers
// of their own.
const maxLaneWaiting = 64

// lane is a socket's queue of calls for one worker.
type lane struct {
	st *serverState

	mu     sync.Mutex
	active bool  // a worker serves the lane, or is about to
	first  *call // the call that worker starts with
	// waiting[head:] are the calls after the current one, in arrival
	// order. Each holds a place in the pool's queue (workers.Reserve), so
	// that they count against the server's bound on waiting calls.
	waiting []*call
	head    int
	// seq counts the calls the lane has begun; seen is its value when the
	// watcher last looked, and slow says the watcher found the current
	// call running for a whole laneBudget.
	seq, seen uint64
	slow      bool
	listed    bool // on the watcher's list of lanes with calls waiting
}

// run starts c on the lane, or on a worker of its own; it reports false,
// starting nothing, if the server is at capacity.
func (l *lane) run(c *call) bool {
	pool := l.st.pool
	l.mu.Lock()
	if !l.active {
		l.active, l.first, l.slow = true, c, false
		l.seq++
		l.mu.Unlock()
		if pool.Go(l) {
			return true
		}
		l.mu.Lock()
		l.active, l.first = false, nil
		out := l.takeWaitingLocked()
		l.mu.Unlock()
		handOut(pool, out)
		return false
	}
	if l.slow || len(l.waiting)-l.head >= maxLaneWaiting || !pool.Reserve() {
		l.mu.Unlock()
		return pool.Go(c)
	}
	l.waiting = append(l.waiting, c)
	listed := l.listed
	l.listed = true
	l.mu.Unlock()
	if !listed {
		l.st.watchLane(l)
	}
	return true
}

// Run serves the lane on a worker: its first call, then those waiting,
// until none is left.
func (l *lane) Run() {
	l.mu.Lock()
	c := l.first
	l.first = nil
	l.mu.Unlock()
	for {
		c.Run()
		l.mu.Lock()
		if l.head == len(l.waiting) {
			l.active = false
			l.mu.Unlock()
			return
		}
		c = l.waiting[l.head]
		l.waiting[l.head] = nil
		l.head++
		if l.head == len(l.waiting) {
			l.waiting, l.head = l.waiting[:0], 0
		}
		l.seq++
		l.slow = false
		l.mu.Unlock()
		l.st.pool.Release() // it runs here, not in the queue
	}
}

// takeWaitingLocked removes the waiting calls and returns them.
func (l *lane) takeWaitingLocked() []*call {
	if l.head == len(l.waiting) {
		return nil
	}
	out := append([]*call(nil), l.waiting[l.head:]...)
	clear(l.waiting)
	l.waiting, l.head = l.waiting[:0], 0
	return out
}

// handOut gives each call, which holds a place in the pool's queue, a
// worker of its own, or that place.
func handOut(pool *workers.Pool, calls []*call) {
	for _, c := range calls {
		pool.GoReserved(c)
	}
}

// watchLane puts l on the list of lanes with calls waiting, starting the
// watcher if it is not running.
func (st *serverState) watchLane(l *lane) {
	st.laneMu.Lock()
	st.lanes = append(st.lanes, l)
	if !st.watching {
		st.watching = true
		go st.watchLanes()
	}
	st.laneMu.Unlock()
}

// watchLanes hands out the calls waiting behind a call that has run for
// laneBudget or more, looking every laneBudget until no lane has calls
// waiting.
func (st *serverState) watchLanes() {
	var out []*call
	for {
		time.Sleep(laneBudget)
		st.laneMu.Lock()
		keep := st.lanes[:0]
		for _, l := range st.lanes {
			l.mu.Lock()
			switch {
			case l.head == len(l.waiting):
				l.listed = false
			case l.seen == l.seq:
				// The call that was current at an earlier look still
				// runs, so for a laneBudget at least.
				out = append(out, l.takeWaitingLocked()...)
				l.listed, l.slow = false, true
			default:
				l.seen = l.seq
				keep = append(keep, l)
			}
			l.mu.Unlock()
		}
		clear(st.lanes[len(keep):])
		st.lanes = keep
		done := len(keep) == 0
		if done {
			st.watching = false
		}
		st.laneMu.Unlock()
		handOut(st.pool, out)
		clear(out)
		out = out[:0]
		if done {
			return
		}
	}
}
