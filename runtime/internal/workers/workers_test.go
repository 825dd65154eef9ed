package workers

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestTasksRunConcurrentlyAndWorkersExitWhenIdle(t *testing.T) {
	p := New()
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
