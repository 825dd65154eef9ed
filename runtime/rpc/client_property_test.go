package rpc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
)

// settled is how one call of the property test ended.
type settled struct {
	id       string
	start    time.Time
	timeout  time.Duration
	end      time.Time
	err      error
	calls    int  // how many times the call returned (must be 1)
	overlaps bool // a pause of the server overlapped the call
}

// gaveUp reports whether the caller gave up on the call (its deadline or
// a cancel).
func (s *settled) gaveUp() bool {
	c := rpc.CodeOf(s.err)
	return c == rpc.CodeCanceled || c == rpc.CodeDeadlineExceeded
}

// neverSent reports whether the client says the call never left it.
func (s *settled) neverSent() bool {
	msg := fmt.Sprint(s.err)
	return strings.Contains(msg, "not connected to namespace") ||
		strings.Contains(msg, "while waiting for the connection") ||
		strings.Contains(msg, "before "+ledgerv1sio.LedgerServiceTransferEvent+" was sent")
}

// TestCallSemanticsProperty drives random sequences of calls, cancels,
// timeouts, server kills, pauses and restarts, and checks that every call
// settles exactly once with a status by its deadline, that a call the
// client never sent never ran, and that no transfer started after its
// caller gave up. Bounded: at most 60 steps and about 20 s of operations.
func TestCallSemanticsProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := startLedger(t)
	s, c := dialLedger(t, p)

	var (
		mu      sync.Mutex
		results []*settled
		pauses  [][2]time.Time // when the server was paused, and resumed
		seen    = map[string]*ledgerv1.TransferRecord{}
		wg      sync.WaitGroup
	)
	alive, paused := true, false
	snapshot := func() {
		for id, r := range transfers(t, c) {
			seen[id] = r
		}
	}
	call := func(n int) {
		timeout := time.Duration(100+rng.IntN(1400)) * time.Millisecond
		processing := uint32(rng.IntN(600))
		waitReady := rng.IntN(2) == 0
		cancelAfter := time.Duration(-1)
		if rng.IntN(4) == 0 {
			cancelAfter = time.Duration(rng.IntN(800)) * time.Millisecond
		}
		r := &settled{id: fmt.Sprintf("p%d", n), timeout: timeout}
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if cancelAfter >= 0 {
				stop := time.AfterFunc(cancelAfter, cancel)
				defer stop.Stop()
			}
			if waitReady {
				ctx = rpc.WithWaitForReady(ctx)
			}
			start := time.Now()
			_, err := c.Transfer(ctx, &ledgerv1.TransferRequest{Id: r.id, Amount: 1, ProcessingMs: processing})
			mu.Lock()
			r.start, r.end, r.err = start, time.Now(), err
			r.calls++
			mu.Unlock()
		}()
	}

	deadline := time.Now().Add(20 * time.Second)
	for step := 0; step < 60 && time.Now().Before(deadline); step++ {
		switch op := rng.IntN(10); {
		case op < 6:
			call(step)
		case op == 6 && alive && !paused:
			snapshot()
			p.Kill()
			alive = false
		case op == 7 && !alive:
			p.Restart()
			alive = true
		case op == 8 && alive && !paused:
			snapshot()
			p.Pause()
			paused = true
			mu.Lock()
			pauses = append(pauses, [2]time.Time{time.Now()})
			mu.Unlock()
		case op == 9 && paused:
			p.Resume()
			paused = false
			mu.Lock()
			pauses[len(pauses)-1][1] = time.Now()
			mu.Unlock()
		}
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
	}
	if paused {
		p.Resume()
		pauses[len(pauses)-1][1] = time.Now()
	}
	if !alive {
		p.Restart()
	}
	wg.Wait()
	waitFor(t, "the client reconnects", s.Connected)
	// Let the handlers that may still run finish starting, then look.
	time.Sleep(time.Second)
	snapshot()

	const slack = 3 * time.Second // scheduling on a loaded machine
	const clockSlack = time.Second
	for _, r := range results {
		for _, pz := range pauses {
			if pz[0].Before(r.end) && pz[1].After(r.start) {
				r.overlaps = true
			}
		}
		if r.calls != 1 {
			t.Errorf("%s returned %d times", r.id, r.calls)
		}
		switch code := rpc.CodeOf(r.err); {
		case r.err == nil, code == rpc.CodeCanceled, code == rpc.CodeDeadlineExceeded, code == rpc.CodeUnavailable:
		default:
			t.Errorf("%s ended with %v", r.id, r.err)
		}
		if took := r.end.Sub(r.start); took > r.timeout+slack {
			t.Errorf("%s settled after %v, its deadline was %v", r.id, took, r.timeout)
		}
		rec, ran := seen[r.id]
		if ran && r.neverSent() {
			t.Errorf("%s ran although the client never sent it (%v): %v", r.id, r.err, rec)
		}
		// A request that waited in a paused server's socket buffer may
		// start after its caller gave up: a relative deadline starts on
		// the server when the request arrives. Only those are exempt.
		if ran && r.gaveUp() && !r.overlaps {
			if started := time.UnixMilli(rec.GetStartedUnixMs()); started.After(r.end.Add(clockSlack)) {
				t.Errorf("%s started %v after its caller gave up (%v)", r.id, started.Sub(r.end), r.err)
			}
		}
	}
	counts := map[string]int{}
	for _, r := range results {
		if r.err == nil {
			counts["ok"]++
		} else {
			counts[rpc.CodeOf(r.err).String()]++
		}
	}
	t.Logf("%d calls: %v; %d pauses; the ledger ran %d", len(results), counts, len(pauses), len(seen))
}
