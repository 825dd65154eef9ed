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
	tasks chan Task
}

// New returns an empty pool.
func New() *Pool { return &Pool{tasks: make(chan Task)} }

// Go runs t on an idle worker, or on a new one if none is waiting.
func (p *Pool) Go(t Task) {
	select {
	case p.tasks <- t:
	default:
		go p.work(t)
	}
}

func (p *Pool) work(t Task) {
	t.Run()
	idle := time.NewTimer(idleTime)
	defer idle.Stop()
	for {
		select {
		case t := <-p.tasks:
			t.Run()
			idle.Reset(idleTime)
		case <-idle.C:
			return
		}
	}
}
