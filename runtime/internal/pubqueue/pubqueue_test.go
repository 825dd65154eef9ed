package pubqueue

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// sink is a broker for tests: it records the batches it is sent and,
// while stalled, blocks in Send until released or the queue's ctx ends.
type sink struct {
	mu      sync.Mutex
	got     []int   // every item sent, in order
	batches [][]int // each batch as Send got it
	stalled chan struct{}
	entered chan struct{} // gets a token when a stalled Send begins
}

func (s *sink) stall() {
	s.mu.Lock()
	s.stalled, s.entered = make(chan struct{}), make(chan struct{}, 1)
	s.mu.Unlock()
}

func (s *sink) release() { s.mu.Lock(); close(s.stalled); s.stalled = nil; s.mu.Unlock() }

func (s *sink) send(ctx context.Context, batch []int) (int, time.Duration, bool) {
	s.mu.Lock()
	stalled, entered := s.stalled, s.entered
	s.mu.Unlock()
	if stalled != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-stalled:
		case <-ctx.Done():
			return 0, 0, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, batch...)
	s.batches = append(s.batches, slices.Clone(batch))
	return len(batch), 0, false
}

func (s *sink) sent() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// newQueue returns a queue of ints, each costing 1, into s.
func newQueue(s *sink, maxBytes int, maxAge time.Duration, dropped *atomic.Uint64) *Queue[int] {
	return New(Config[int]{
		MaxBytes: maxBytes, MaxAge: maxAge, Batch: 4,
		Size: func(int) int { return 1 }, Send: s.send,
		Dropped: dropped, Logger: slog.New(slog.DiscardHandler), DropMessage: "test: dropped",
	})
}

// Items added by several goroutines reach the sink in the order each
// added them, every one once, in batches no larger than the bound, and
// Close returns once they are all sent.
func TestOrderKeptUnderConcurrency(t *testing.T) {
	defer goleak.VerifyNone(t)
	var s sink
	var dropped atomic.Uint64
	q := newQueue(&s, 1<<20, time.Hour, &dropped)
	const adders, each = 8, 500
	var wg sync.WaitGroup
	for g := range adders {
		wg.Go(func() {
			for n := range each {
				if err := q.Add(g*each + n); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if left := q.Close(time.Hour); len(left) != 0 {
		t.Fatalf("%d items left at close", len(left))
	}
	got := s.sent()
	if len(got) != adders*each {
		t.Fatalf("%d items sent, want %d", len(got), adders*each)
	}
	next := make([]int, adders)
	for _, v := range got {
		g, n := v/each, v%each
		if n != next[g] {
			t.Fatalf("adder %d's item %d sent when %d was due", g, n, next[g])
		}
		next[g]++
	}
	for _, b := range s.batches {
		if len(b) > 4 {
			t.Fatalf("a batch of %d, more than the bound of 4", len(b))
		}
	}
	if d := dropped.Load(); d != 0 {
		t.Errorf("dropped %d", d)
	}
}

// While the sink is stalled, the queue holds what fits in its bound,
// those being sent included, and refuses the rest at once; once the
// sink takes them, the kept items arrive in order and there is room
// again.
func TestBoundWhileSinkStalled(t *testing.T) {
	defer goleak.VerifyNone(t)
	var s sink
	var dropped atomic.Uint64
	const bound = 10
	q := newQueue(&s, bound, time.Hour, &dropped)
	defer q.Close(0)
	s.stall()
	// The first item is under way, and still counts, when the others
	// come.
	if err := q.Add(0); err != nil {
		t.Fatal(err)
	}
	<-s.entered
	refused := 0
	for i := 1; i < 3*bound; i++ {
		switch err := q.Add(i); {
		case errors.Is(err, ErrFull):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	if refused != 2*bound {
		t.Errorf("%d of %d refused with room for %d", refused, 3*bound-1, bound-1)
	}
	if n, bytes := q.Len(); n != bound || bytes != bound {
		t.Errorf("the queue holds %d items, %d bytes; want %d, %d", n, bytes, bound, bound)
	}
	if got := q.Items(); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("the queue holds %v", got)
	}
	// Refusals are the caller's to count.
	if d := dropped.Load(); d != 0 {
		t.Errorf("dropped %d by Add", d)
	}
	s.release()
	waitFor(t, func() bool { return len(s.sent()) == bound })
	if got := s.sent(); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("sent %v", got)
	}
	waitFor(t, func() bool { n, _ := q.Len(); return n == 0 })
	if err := q.Add(100); err != nil {
		t.Errorf("add once the queue emptied: %v", err)
	}
}

// Items that wait longer than MaxAge are dropped, counted once each and
// told to Expired, before the next batch is taken: the sink never gets
// them.
func TestExpiredItemsDroppedBeforeSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sink
		var dropped atomic.Uint64
		var mu sync.Mutex // guards expired
		var expired []int
		q := New(Config[int]{
			MaxBytes: 100, MaxAge: time.Second, Batch: 4,
			Size: func(int) int { return 1 },
			// The first call stalls for longer than MaxAge; what was
			// queued meanwhile is then too old.
			Send: func(ctx context.Context, batch []int) (int, time.Duration, bool) {
				if len(s.sent()) == 0 {
					time.Sleep(2 * time.Second)
				}
				return s.send(ctx, batch)
			},
			Expired: func(v int) { mu.Lock(); expired = append(expired, v); mu.Unlock() },
			Dropped: &dropped, Logger: slog.New(slog.DiscardHandler), DropMessage: "test: dropped",
		})
		_ = q.Add(0)
		synctest.Wait() // 0 is being sent
		for i := 1; i <= 3; i++ {
			_ = q.Add(i)
		}
		time.Sleep(1500 * time.Millisecond)
		_ = q.Add(4) // young enough when 0 is done
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := s.sent(); !slices.Equal(got, []int{0, 4}) {
			t.Errorf("sent %v, want [0 4]", got)
		}
		mu.Lock()
		if !slices.Equal(expired, []int{1, 2, 3}) {
			t.Errorf("expired %v, want [1 2 3]", expired)
		}
		mu.Unlock()
		if d := dropped.Load(); d != 3 {
			t.Errorf("dropped %d, want 3", d)
		}
		if n, bytes := q.Len(); n != 0 || bytes != 0 {
			t.Errorf("the queue holds %d items, %d bytes after expiry", n, bytes)
		}
		q.Close(0)
	})
}

// What Send does not take stays at the head, in order, and is sent
// again after the wait Send asked for.
func TestNotTakenIsRetriedInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sink
		var dropped atomic.Uint64
		calls := 0
		q := New(Config[int]{
			MaxBytes: 100, MaxAge: time.Hour, Batch: 4,
			Size: func(int) int { return 1 },
			// The first call takes half of its batch and asks for a
			// pause.
			Send: func(ctx context.Context, batch []int) (int, time.Duration, bool) {
				calls++
				if calls == 1 {
					n, _, _ := s.send(ctx, batch[:2])
					return n, time.Second, false
				}
				return s.send(ctx, batch)
			},
			Dropped: &dropped, Logger: slog.New(slog.DiscardHandler), DropMessage: "test: dropped",
		})
		synctest.Wait()
		addAtOnce(q, 4)
		synctest.Wait()
		if n, _ := q.Len(); n != 2 {
			t.Errorf("%d items queued during the pause, want the 2 not taken", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := s.sent(); !slices.Equal(got, []int{0, 1, 2, 3}) {
			t.Errorf("sent %v, want [0 1 2 3]", got)
		}
		q.Close(0)
	})
}

// Close with a full queue and a stalled sink waits its flush time, ends
// Send's ctx, returns what was left, uncounted, and refuses what is
// added after; its goroutine is gone.
func TestCloseWhileFullAndStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, q, dropped := stalledQueue(t, 6, 6)
		start := time.Now()
		left := q.Close(3 * time.Second)
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("close took %v, want its flush time", took)
		}
		if !slices.Equal(left, []int{0, 1, 2, 3, 4, 5}) {
			t.Errorf("left %v", left)
		}
		if n, bytes := q.Len(); n != 0 || bytes != 0 {
			t.Errorf("the queue holds %d items, %d bytes after close", n, bytes)
		}
		if err := q.Add(9); !errors.Is(err, ErrClosed) {
			t.Errorf("add after close: %v, want ErrClosed", err)
		}
		if d := dropped.Load(); d != 0 {
			t.Errorf("dropped %d by Close", d)
		}
		select {
		case <-q.done:
		default:
			t.Error("the queue's goroutine still runs after Close")
		}
		if left := q.Close(0); len(left) != 0 {
			t.Errorf("a second close returned %v", left)
		}
	})
}

// Close with a sink that answers sends everything before it returns.
func TestCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, q, _ := stalledQueue(t, 100, 10)
		go func() {
			time.Sleep(time.Second)
			s.release()
		}()
		if left := q.Close(time.Hour); len(left) != 0 {
			t.Errorf("left %v", left)
		}
		if got := s.sent(); len(got) != 10 {
			t.Errorf("sent %v", got)
		}
	})
}

// RemoveIf, called from Send, takes items out from anywhere in the
// queue; the others keep their order and what they cost, and are sent
// next.
func TestRemoveIfFromSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sink
		var dropped atomic.Uint64
		var q *Queue[int]
		var mu sync.Mutex
		var removed []int
		bytes := -1
		q = New(Config[int]{
			MaxBytes: 100, MaxAge: time.Hour, Batch: 4,
			Size: func(int) int { return 1 },
			Send: func(ctx context.Context, batch []int) (int, time.Duration, bool) {
				mu.Lock()
				defer mu.Unlock()
				if removed == nil {
					removed = q.RemoveIf(func(v int) bool { return v%3 == 0 })
					_, bytes = q.Len()
					return 0, 0, false
				}
				return s.send(ctx, batch)
			},
			Dropped: &dropped, Logger: slog.New(slog.DiscardHandler), DropMessage: "test: dropped",
		})
		synctest.Wait()
		addAtOnce(q, 10)
		synctest.Wait()
		mu.Lock()
		if !slices.Equal(removed, []int{0, 3, 6, 9}) {
			t.Errorf("removed %v", removed)
		}
		if bytes != 6 {
			t.Errorf("%d bytes kept, want 6", bytes)
		}
		mu.Unlock()
		if got := s.sent(); !slices.Equal(got, []int{1, 2, 4, 5, 7, 8}) {
			t.Errorf("sent %v", got)
		}
		q.Close(0)
	})
}

// addAtOnce queues 0 to n-1 as one, so that the queue's goroutine, which
// must be waiting, sees them all in its first batch.
func addAtOnce(q *Queue[int], n int) {
	q.mu.Lock()
	for i := range n {
		q.items = append(q.items, entry[int]{item: i, size: 1, at: time.Now()})
		q.bytes++
	}
	q.mu.Unlock()
	q.poke()
}

// Drop counts into the shared counter and logs the first time.
func TestDropCountsAndLogs(t *testing.T) {
	defer goleak.VerifyNone(t)
	var logged sync.Mutex
	lines := 0
	var dropped atomic.Uint64
	dropped.Store(5) // counts of others
	q := New(Config[int]{
		MaxBytes: 1, MaxAge: time.Hour, Batch: 1, Size: func(int) int { return 1 },
		Send:    func(context.Context, []int) (int, time.Duration, bool) { return 0, 0, true },
		Dropped: &dropped,
		Logger: slog.New(handlerFunc(func(r slog.Record) {
			logged.Lock()
			lines++
			logged.Unlock()
		})),
		DropMessage: "test: dropped",
	})
	q.Drop(2, "why")
	q.Drop(3, "why")
	if d := dropped.Load(); d != 10 {
		t.Errorf("counter %d, want 10", d)
	}
	logged.Lock()
	if lines != 1 {
		t.Errorf("%d log lines for two drops in a row, want 1", lines)
	}
	logged.Unlock()
	q.Close(0)
}

// stalledQueue returns a queue with room for bound items, into a
// stalled sink, holding 0 to n-1.
func stalledQueue(t *testing.T, bound, n int) (*sink, *Queue[int], *atomic.Uint64) {
	s, dropped := new(sink), new(atomic.Uint64)
	q := newQueue(s, bound, time.Hour, dropped)
	s.stall()
	for i := range n {
		if err := q.Add(i); err != nil {
			t.Fatal(err)
		}
	}
	return s, q, dropped
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 10s")
}

// handlerFunc is a slog.Handler that hands every record to a function.
type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }
