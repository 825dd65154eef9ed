package adaptertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RunKilledAndRestarted kills the broker (SIGKILL) while node a
// broadcasts a tick every ad.Fault.TickEvery, and starts it again on the
// same port after a second. Both nodes resume by themselves and
// broadcasts cross again; a client of the other node gets no tick twice
// and none out of order, and, where the broker replays what it kept
// (Fault.Kept), exactly those ticks; elsewhere it misses only one run
// of ticks, sent during the outage (until its node listens again), never
// one sent before it or after. The broadcaster's own client gets them
// all. Then requests cross again.
func RunKilledAndRestarted[B Broker](t *testing.T, ad Adapter[B]) {
	f := ad.Fault
	start := ad.StartBroker
	if f.StartBroker != nil {
		start = f.StartBroker
	}
	br := start(t)
	a, b := ad.StartNode(t, br, NodeOptions{}), ad.StartNode(t, br, NodeOptions{})
	onA, onB := Dial(t, a, "r"), Dial(t, b, "r")
	local, remote := CollectTicks(onA), CollectTicks(onB)
	WaitFor(t, "two nodes", func() bool { return ServerCount(a) == 2 })

	every := f.TickEvery
	if every == 0 {
		every = 10 * time.Millisecond
	}
	tk := StartTicker(a, every)
	WaitFor(t, "ticks before the kill", func() bool { return remote.Last() >= 50 })
	killed := time.Now()
	br.Stop()
	beforeKill := remote.Last()
	time.Sleep(time.Second)
	br.Start(t)
	restarted := time.Now()
	WaitWithin(t, 15*time.Second, "ticks after the restart", func() bool { return remote.Last() > beforeKill+50 })
	resumed := time.Since(restarted)
	sentAt := tk.End()
	n := len(sentAt)
	WaitWithin(t, 5*time.Second, "the local ticks", func() bool { return local.Last() == n })

	var got []int
	if f.Kept != nil {
		want := f.Kept(t, br, a)
		WaitFor(t, "the broker's last tick", func() bool { return len(want) > 0 && remote.Last() == want[len(want)-1] })
		got = remote.List()
		if !slices.Equal(got, want) {
			t.Errorf("the remote client got %d ticks, the broker holds %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
		}
		if !slices.Contains(want, beforeKill) {
			t.Errorf("tick %d, read before the kill, is not on the restarted broker", beforeKill)
		}
		t.Logf("%d ticks sent, %d kept by the broker (the others while it was down); cross-node delivery resumed within %v of the restart",
			n, len(want), resumed.Round(10*time.Millisecond))
	} else {
		WaitWithin(t, 5*time.Second, "the last tick", func() bool { return remote.Last() == n })
		got = remote.List()
		checkOneRunLost(t, got, sentAt, killed, restarted)
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("the remote client got ticks twice or out of order: %v", got)
	}
	all := local.List()
	for i, v := range all {
		if v != i+1 {
			t.Fatalf("the local client's tick %d is %d: local delivery lost or repeated one", i+1, v)
		}
	}
	if len(all) != n {
		t.Errorf("the local client got %d of %d ticks", len(all), n)
	}

	// Requests cross again, once both nodes count each other.
	WaitFor(t, "two nodes again", func() bool { return ServerCount(a) == 2 && ServerCount(b) == 2 })
	Collect(onB, "ping")
	acked := func(within time.Duration) bool {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		acks, err := a.Srv.To(onB.ID()).EmitWithAck(ctx, "ping")
		return err == nil && len(acks) == 1
	}
	if f.HeardOnceCounted {
		if !acked(5 * time.Second) {
			t.Error("no ack across nodes after the restart")
		}
	} else {
		WaitFor(t, "acks across nodes again", func() bool { return acked(500 * time.Millisecond) })
	}
}

// checkOneRunLost fails t unless what was lost of ticks 1…len(sentAt) is
// one run, from the first lost, sent no earlier than the kill, to the
// first received again, and cross-node delivery resumed within 6s of the
// restart.
func checkOneRunLost(t *testing.T, got []int, sentAt []time.Time, killed, restarted time.Time) {
	t.Helper()
	n := len(sentAt)
	received := map[int]bool{}
	for _, v := range got {
		received[v] = true
	}
	firstLost := 1
	for firstLost <= n && received[firstLost] {
		firstLost++
	}
	if firstLost > n {
		t.Fatal("no tick was lost: the outage did not happen")
	}
	if d := sentAt[firstLost-1].Sub(killed); d < -200*time.Millisecond {
		t.Errorf("tick %d, sent %v before the kill, was lost", firstLost, -d)
	}
	recovered := firstLost
	for recovered <= n && !received[recovered] {
		recovered++
	}
	if recovered > n {
		t.Fatal("no tick after the outage arrived")
	}
	for i := recovered; i <= n; i++ {
		if !received[i] {
			t.Errorf("tick %d, sent %v after the restart (recovered at tick %d), was lost", i, sentAt[i-1].Sub(restarted).Round(time.Millisecond), recovered)
		}
	}
	resumed := sentAt[recovered-1].Sub(restarted)
	if resumed > 6*time.Second {
		t.Errorf("cross-node delivery resumed %v after the restart", resumed)
	}
	t.Logf("%d ticks sent, %d lost (sent while the broker was down or the listener away); cross-node delivery resumed %v after the restart",
		n, recovered-firstLost, resumed.Round(10*time.Millisecond))
}

// RunPausedDoesNotWedge stops the broker (SIGSTOP, its processes too)
// for ad.Fault.Pause, which wedges no node: broadcasts keep reaching
// local clients without each waiting for the broker, none crosses, a
// request ends at its timeouts, and once the broker continues (SIGCONT)
// the nodes talk again by themselves. Closing the nodes then leaves no
// goroutine behind.
func RunPausedDoesNotWedge[B Broker](t *testing.T, ad Adapter[B]) {
	f := ad.Fault
	br := ad.StartBroker(t)
	before := goleak.IgnoreCurrent()
	a, b := ad.StartNode(t, br, NodeOptions{}), ad.StartNode(t, br, NodeOptions{})
	onA, onB := Dial(t, a, "r"), Dial(t, b, "r")
	local, remote := CollectTicks(onA), CollectTicks(onB)
	WaitFor(t, "two nodes", func() bool { return ServerCount(a) == 2 })
	_ = a.Srv.Emit("tick", 1)
	WaitFor(t, "the first tick", func() bool { return remote.Last() == 1 })

	br.Pause()
	paused := time.Now()
	start := time.Now()
	for i := 2; i <= 21; i++ {
		_ = a.Srv.Emit("tick", i)
	}
	took := time.Since(start)
	WaitFor(t, "the local ticks", func() bool { return local.Last() == 21 })
	if took > f.PausedBroadcasts {
		t.Errorf("20 broadcasts took %v while the broker was stopped", took)
	}
	// A request waits for its publish's timeout, then for the answers'.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start = time.Now()
	_, _ = b.Srv.Of("/").FetchSockets(ctx)
	fetchTook := time.Since(start)
	if fetchTook > 5*time.Second {
		t.Errorf("FetchSockets took %v while the broker was stopped", fetchTook)
	}
	time.Sleep(f.Pause - time.Since(paused))
	if l := remote.Last(); l != 1 {
		t.Errorf("tick %d crossed while the broker was stopped", l)
	}
	br.Resume()
	resumed := time.Now()

	i := 100
	WaitFor(t, "cross-node broadcasts again", func() bool {
		i++
		_ = a.Srv.Emit("tick", i)
		time.Sleep(50 * time.Millisecond)
		return remote.Last() > 100
	})
	t.Logf("20 broadcasts took %v and FetchSockets %v with the broker stopped; cross-node delivery resumed %v after SIGCONT",
		took.Round(time.Millisecond), fetchTook.Round(time.Millisecond), time.Since(resumed).Round(10*time.Millisecond))
	fetched := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		infos, err := b.Srv.Of("/").FetchSockets(ctx)
		return err == nil && len(infos) == 2
	}
	if f.HeardOnceCounted {
		if !fetched() {
			t.Error("FetchSockets across nodes failed after SIGCONT")
		}
	} else {
		WaitFor(t, "FetchSockets across nodes again", fetched)
	}

	onA.Manager().Close()
	onB.Manager().Close()
	a.Close()
	b.Close()
	goleak.VerifyNone(t, append([]goleak.Option{before}, f.IgnoreLeaks...)...)
}
