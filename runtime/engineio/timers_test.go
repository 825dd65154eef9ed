package engineio

import (
	"math/rand/v2"
	"testing"
	"time"
)

// checkTimerHeaps verifies every heap: each entry knows its position, and
// no entry is due before its parent.
func checkTimerHeaps(t *testing.T) {
	t.Helper()
	for s := range sessionTimers {
		h := &sessionTimers[s]
		h.mu.Lock()
		for i, e := range h.entries {
			if int(e.c.timer.pos) != i+1 || int(e.c.timer.shard) != s {
				t.Errorf("heap %d entry %d: the session has position %d in heap %d", s, i, e.c.timer.pos-1, e.c.timer.shard)
			}
			if p := (i - 1) / 2; i > 0 && h.entries[p].when > e.when {
				t.Errorf("heap %d entry %d is due before its parent", s, i)
			}
		}
		h.mu.Unlock()
	}
}

// TestTimerHeapsStayOrdered sets, moves and clears the deadlines of many
// sessions in random order, checking the heaps after every step.
func TestTimerHeapsStayOrdered(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	conns := make([]*Conn, 300)
	for i := range conns {
		conns[i] = &Conn{state: stateClosed} // its onTimer does nothing
		conns[i].initTimer()
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.stopTimer()
		}
	})
	far := time.Now().Add(time.Hour) // nothing fires during the test
	for step := range 3000 {
		c := conns[rng.IntN(len(conns))]
		if rng.IntN(4) == 0 {
			c.stopTimer()
		} else {
			c.setTimer(far.Add(time.Duration(rng.IntN(1000)) * time.Millisecond))
		}
		if step%100 == 0 {
			checkTimerHeaps(t)
		}
	}
	checkTimerHeaps(t)
	for _, c := range conns {
		c.stopTimer()
		if c.timer.pos != 0 {
			t.Fatal("a stopped timer keeps its place")
		}
	}
	checkTimerHeaps(t)
}

// TestManySessionsTimeOut opens sessions that never answer a ping: every
// one is closed for the ping timeout, however many deadlines fall due at
// once.
func TestManySessionsTimeOut(t *testing.T) {
	ts := newTestServer(t, false, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	const n = 100
	for range n {
		if status, body := do(t, "GET", ts.url("EIO=4&transport=polling"), ""); status != 200 || body[0] != '0' {
			t.Fatalf("handshake: %d %q", status, body)
		}
	}
	for range n {
		if e := ts.session(t).waitClose(t); e.reason != ReasonPingTimeout {
			t.Fatalf("closed with %q, want %q", e.reason, ReasonPingTimeout)
		}
	}
	checkTimerHeaps(t)
}
