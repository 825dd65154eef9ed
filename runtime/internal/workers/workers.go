// Package workers runs short tasks on goroutines that outlive one task.
//
// A goroutine started for every task begins with a small stack and grows
// it, copying, when the task runs deep (decoding a protobuf message does).
// Handing tasks to goroutines that stay around a little while after their
// task keeps the stacks they grew, which under load is most of the cost of
// a goroutine per task. Nothing waits: with no worker free, a task gets a
// goroutine of its own, which then stays to serve others.
package workers

import "time"

// idleTime is how long a worker waits for another task before it exits.
const idleTime = 500 * time.Millisecond

// Pool hands tasks to idle workers. The zero Pool is not usable; use New.
type Pool struct {
	tasks chan func()
}

// New returns an empty pool.
func New() *Pool { return &Pool{tasks: make(chan func())} }

// Go runs f on an idle worker, or on a new one if none is waiting.
func (p *Pool) Go(f func()) {
	select {
	case p.tasks <- f:
	default:
		go p.work(f)
	}
}

func (p *Pool) work(f func()) {
	f()
	idle := time.NewTimer(idleTime)
	defer idle.Stop()
	for {
		select {
		case f := <-p.tasks:
			f()
			idle.Reset(idleTime)
		case <-idle.C:
			return
		}
	}
}
