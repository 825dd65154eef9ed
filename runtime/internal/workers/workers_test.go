package workers

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestTasksRunConcurrentlyAndWorkersExitWhenIdle(t *testing.T) {
	p := New(0, 0)
	// Tasks that wait for each other can only finish if none waits for a
	// worker: every one must run at once.
	const n = 50
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		p.Go(Func(func() {
			started.Done()
			release.Wait()
			done.Done()
		}))
	}
	started.Wait()
	release.Done()
	done.Wait()
	// A second round reuses the workers the first one left.
	done.Add(n)
	for range n {
		p.Go(Func(done.Done))
	}
	done.Wait()
	time.Sleep(idleTime + 200*time.Millisecond)
	goleak.VerifyNone(t)
}

func TestBoundedPoolQueuesThenRefuses(t *testing.T) {
	p := New(2, 1)
	release := make(chan struct{})
	var ran sync.WaitGroup
	blocked := Func(func() { <-release; ran.Done() })
	ran.Add(3)
	for i := range 3 {
		if !p.Go(blocked) {
			t.Fatalf("task %d refused with room for 2 running and 1 queued", i)
		}
	}
	if p.Go(Func(func() { t.Error("a refused task ran") })) {
		t.Fatal("a fourth task was taken by a pool of 2 workers and a queue of 1")
	}
	close(release)
	ran.Wait() // the queued task ran once a worker was free
	if got := p.workers.Load(); got > 2 {
		t.Errorf("%d workers, bound 2", got)
	}
	ran.Add(1)
	if !p.Go(Func(ran.Done)) {
		t.Fatal("a task refused by a pool with idle workers")
	}
	ran.Wait()
	time.Sleep(idleTime + 200*time.Millisecond)
	goleak.VerifyNone(t)
}

func TestQueuedTaskRunsWhenWorkersGoIdle(t *testing.T) {
	// Tasks queued while the workers are timing out must still run: a
	// worker that exits with tasks queued comes back for them.
	// A lost task shows as a hang of done.Wait.
	p := New(1, 64)
	for range 6 {
		var done sync.WaitGroup
		done.Add(2)
		p.Go(Func(done.Done))
		p.Go(Func(done.Done))
		done.Wait()
		time.Sleep(idleTime - 2*time.Millisecond)
	}
}
