package events

import (
	"errors"
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
