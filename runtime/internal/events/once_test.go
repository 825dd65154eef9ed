package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

var errTimeout = errors.New("timeout")

func TestFirstCallWins(t *testing.T) {
	var calls []string
	var mu sync.Mutex
	f := NewOnce(func(v string, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, v)
	})
	f.Call("ack", nil)
	f.Arm(time.Millisecond, func() bool { return true }, errTimeout) // already answered: no timer
	f.Call("late", nil)
	time.Sleep(10 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != "ack" {
		t.Errorf("calls %v", calls)
	}
}

func TestTimeout(t *testing.T) {
	got := make(chan error, 2)
	f := NewOnce(func(_ int, err error) { got <- err })
	f.Arm(5*time.Millisecond, func() bool { return true }, errTimeout)
	if err := <-got; err != errTimeout {
		t.Errorf("got %v", err)
	}
	f.Call(1, nil)
	select {
	case err := <-got:
		t.Errorf("second call ran: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
}

func TestTimeoutWithdrawnAck(t *testing.T) {
	got := make(chan error, 1)
	f := NewOnce(func(_ int, err error) { got <- err })
	f.Arm(time.Millisecond, func() bool { return false }, errTimeout) // the ack was taken meanwhile
	select {
	case err := <-got:
		t.Errorf("timeout ran although the ack was no longer pending: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestConcurrentAckAndTimeout(t *testing.T) {
	for range 200 {
		var n int
		var mu sync.Mutex
		f := NewOnce(func(int, error) { mu.Lock(); n++; mu.Unlock() })
		var wg sync.WaitGroup
		wg.Go(func() { f.Call(1, nil) })
		wg.Go(func() { f.Arm(0, func() bool { return true }, errTimeout) })
		wg.Wait()
		time.Sleep(time.Millisecond)
		mu.Lock()
		if n != 1 {
			t.Fatalf("callback ran %d times", n)
		}
		mu.Unlock()
	}
}

// TestAwaitAnswersNeverCross: Await's waiters are used again, so an answer
// that comes after its caller gave up (the ack was taken before the
// withdrawal) must not reach a later caller, nor may a withdrawn one.
func TestAwaitAnswersNeverCross(t *testing.T) {
	var acks Acks[string]
	start := func(cb func(string, error)) (uint64, error) { id, _ := acks.Add(cb); return id, nil }
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		late := make(chan func(string, error), 1)
		go func() {
			// Gives up while the answer is on its way: taken, not yet sent.
			_, _ = Await(ctx, func(cb func(string, error)) (uint64, error) {
				id, err := start(cb)
				late <- acks.Take(id)
				return id, err
			}, acks.Drop, errTimeout)
		}()
		cb := <-late
		cancel()
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // the caller is gone
		}
		cb("stale", nil)
		want := fmt.Sprint("answer ", i)
		got, err := Await(context.Background(), func(cb func(string, error)) (uint64, error) {
			id, err := start(cb)
			go func() { acks.Take(id)(want, nil) }()
			return id, err
		}, acks.Drop, errTimeout)
		if err != nil || got != want {
			t.Fatalf("round %d: got %q, %v; want %q", i, got, err, want)
		}
	}
}
