// Package workers runs short tasks on goroutines that outlive one task.
//
// A goroutine started for every task begins with a small stack and grows
// it, copying, when the task runs deep (decoding a protobuf message does).
// Handing tasks to goroutines that stay around a little while after their
// task keeps the stacks they grew, which under load is most of the cost of
// a goroutine per task.
//
// A pool may be bounded: it then runs at most a given number of tasks at
// once, keeps a bounded queue of tasks waiting for a worker, and refuses
// tasks beyond both, so that a burst of work costs bounded memory and the
// caller can say no at once instead of falling behind without limit.
package workers

import (
	"sync/atomic"
	"time"
)

// idleTime is how long a worker waits for another task before it exits.
const idleTime = 500 * time.Millisecond

// Task is work for a pool. A pointer to a struct that carries the task's
// inputs passes to Go without allocating, where a closure would be one
// more allocation per task.
type Task interface{ Run() }

// Func adapts a function to Task.
type Func func()

// Run calls f.
func (f Func) Run() { f() }

// Pool hands tasks to idle workers. The zero Pool is not usable; use New.
type Pool struct {
	handoff chan Task // unbuffered: taken at once by an idle worker
	queue   chan Task // buffered: waits for a busy worker; nil when unbounded
	max     int64     // most workers at once; 0 for no bound
	workers atomic.Int64
	// queued counts the tasks in queue and the places reserved in it
	// (Reserve), which together stay within its capacity.
	queued atomic.Int64
}

// New returns an empty pool of at most max workers, with room for queue
// tasks waiting for one. With max 0 the pool has no bound and no queue:
// a task that finds no idle worker gets a goroutine of its own.
func New(max, queue int) *Pool {
	p := &Pool{handoff: make(chan Task), max: int64(max)}
	if max > 0 && queue > 0 {
		p.queue = make(chan Task, queue)
	}
	return p
}

// Go runs t on an idle worker, on a new one if the bound allows, or
// queues it for the next free worker. It returns false, running nothing,
// when every worker is busy and the queue is full.
func (p *Pool) Go(t Task) bool {
	select {
	case p.handoff <- t:
		return true
	default:
	}
	if p.spawn(t) {
		return true
	}
	if !p.take() {
		return false
	}
	p.enqueue(t)
	return true
}

// take counts a place in the queue, if one is free.
func (p *Pool) take() bool {
	if p.queue == nil {
		return false
	}
	if p.queued.Add(1) > int64(cap(p.queue)) {
		p.queued.Add(-1)
		return false
	}
	return true
}

// enqueue queues t in a place already counted, so the send never blocks.
func (p *Pool) enqueue(t Task) {
	p.queue <- t
	// Busy workers take from the queue when their task is done; one that
	// went idle meanwhile is woken to take it. (One that is just going
	// idle misses the wake: it takes the task with the next hand-off, or
	// when its idle timer fires.)
	select {
	case p.handoff <- drain{}:
	default:
	}
}

// Reserve takes a place in the queue for a task that the caller keeps
// waiting itself, so that such tasks count against the same bound as
// queued ones; it reports false when the queue is full. The place is
// given back with Release, or used by GoReserved. A pool without a bound
// has room for any number.
func (p *Pool) Reserve() bool {
	if p.queue == nil {
		return p.max == 0
	}
	return p.take()
}

// Release gives back a place taken by Reserve.
func (p *Pool) Release() {
	if p.queue != nil {
		p.queued.Add(-1)
	}
}

// GoReserved is Go for a task holding a place taken by Reserve: it runs t
// on an idle or a new worker, giving the place back, or queues t in it.
func (p *Pool) GoReserved(t Task) {
	if p.queue == nil {
		p.Go(t)
		return
	}
	select {
	case p.handoff <- t:
		p.queued.Add(-1)
		return
	default:
	}
	if p.spawn(t) {
		p.queued.Add(-1)
		return
	}
	p.enqueue(t)
}

// Workers returns how many workers the pool has now, busy or idle.
func (p *Pool) Workers() int64 { return p.workers.Load() }

// Queued returns how many tasks wait for a worker now, with the places
// reserved for tasks waiting elsewhere (Reserve).
func (p *Pool) Queued() int { return int(p.queued.Load()) }

// drain is handed to an idle worker to make it take the queued tasks.
type drain struct{}

// Run does nothing: the worker drains the queue after every task.
func (drain) Run() {}

// spawn starts a worker for t if the bound allows.
func (p *Pool) spawn(t Task) bool {
	for {
		n := p.workers.Load()
		if p.max > 0 && n >= p.max {
			return false
		}
		if p.workers.CompareAndSwap(n, n+1) {
			go p.work(t)
			return true
		}
	}
}

// stackReserve is stack that a worker holds in its bottom frame for as
// long as it lives. The garbage collector halves a goroutine's stack when
// less than a quarter of it is in use, which is the case of every worker
// parked between two tasks: the next task that runs deep (a protobuf
// decode, a tracing span) then grows it again, copying, and under load
// that happened after every collection, in every worker. With this much
// in use at the bottom, a stack grown for a task of up to about three
// times the reserve is never shrunk.
const stackReserve = 8 << 10

func (p *Pool) work(t Task) {
	var reserve [stackReserve]byte
	holdStack(&reserve)
	p.serve(t)
}

// holdStack keeps reserve in its caller's frame (it must not be inlined,
// or the unused array would be dropped).
//
//go:noinline
func holdStack(reserve *[stackReserve]byte) { reserve[0] = 1 }

// serve runs t and then the tasks handed to the worker until it has been
// idle long enough.
func (p *Pool) serve(t Task) {
	t.Run()
	// The idle timer is not reset after every task, nor is the time read:
	// under load either costs more than the task's hand-off. A count of
	// tasks tells, when the timer fires, whether the worker was busy since
	// the last time; if so it waits another idleTime. So an idle worker
	// exits after idleTime to twice that.
	idle := time.NewTimer(idleTime)
	defer idle.Stop()
	var ran, seen uint64
	for {
		ran += p.drainQueue()
		select {
		case t := <-p.handoff:
			t.Run()
			ran++
		case <-idle.C:
			if ran != seen {
				seen = ran
				idle.Reset(idleTime)
				continue
			}
			p.workers.Add(-1)
			// A task queued as this worker timed out would otherwise wait
			// for a worker that is no longer coming.
			if len(p.queue) == 0 || !p.rejoin() {
				return
			}
			idle.Reset(idleTime)
		}
	}
}

// drainQueue runs the queued tasks, if any, and returns how many it ran.
func (p *Pool) drainQueue() uint64 {
	var n uint64
	for len(p.queue) > 0 {
		select {
		case t := <-p.queue:
			p.queued.Add(-1)
			t.Run()
			n++
		default:
			return n
		}
	}
	return n
}

// rejoin counts an exiting worker back in, if the bound allows.
func (p *Pool) rejoin() bool {
	for {
		n := p.workers.Load()
		if n >= p.max {
			return false
		}
		if p.workers.CompareAndSwap(n, n+1) {
			return true
		}
	}
}
