package postgresadapter

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// ticks records the numbers of the "tick" events a client receives.
type ticks struct {
	mu  sync.Mutex
	got []int
}

func collectTicks(s *sioclient.Socket) *ticks {
	tk := &ticks{}
	s.On("tick", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var n int
		_ = args.Decode(0, &n)
		tk.mu.Lock()
		tk.got = append(tk.got, n)
		tk.mu.Unlock()
	})
	return tk
}

func (tk *ticks) list() []int {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return slices.Clone(tk.got)
}

func (tk *ticks) last() int {
	l := tk.list()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// ticker broadcasts "tick" 1, 2, 3… from a node every 10ms until stopped,
// and remembers when it sent each.
type ticker struct {
	mu     sync.Mutex
	sentAt []time.Time // sentAt[i] is when tick i+1 was sent
	stop   chan struct{}
	done   sync.WaitGroup
}

func startTicker(n *node) *ticker {
	tk := &ticker{stop: make(chan struct{})}
	tk.done.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-tk.stop:
				return
			case <-t.C:
			}
			tk.mu.Lock()
			tk.sentAt = append(tk.sentAt, time.Now())
			i := len(tk.sentAt)
			tk.mu.Unlock()
			_ = n.srv.Emit("tick", i)
		}
	})
	return tk
}

// end stops the ticker and returns when each tick was sent.
func (tk *ticker) end() []time.Time {
	close(tk.stop)
	tk.done.Wait()
	return tk.sentAt
}

// PostgreSQL is killed (SIGKILL, its backends too) while a node
// broadcasts steadily, and started again on the same data directory and
// port. The nodes connect again by themselves and broadcasts cross again.
// A client of the other node misses only ticks sent during the outage
// (until its node listens again), never one sent before it or after,
// gets none twice, and none out of order; the broadcaster's own client
// gets them all.
func TestPostgresKilledAndRestarted(t *testing.T) {
	pg := siotest.StartPostgres(t)
	a, b := startNode(t, pg, nodeOptions{}), startNode(t, pg, nodeOptions{})
	onA, onB := dial(t, a, "r"), dial(t, b, "r")
	local, remote := collectTicks(onA), collectTicks(onB)
	waitFor(t, "two nodes", func() bool { return serverCount(a) == 2 })

	tk := startTicker(a)
	waitFor(t, "ticks before the kill", func() bool { return remote.last() >= 50 })
	killed := time.Now()
	pg.Stop()
	beforeKill := remote.last()
	time.Sleep(time.Second)
	pg.Start(t)
	restarted := time.Now()
	waitWithin(t, 15*time.Second, "ticks after the restart", func() bool { return remote.last() > beforeKill+50 })
	sentAt := tk.end()
	n := len(sentAt)
	waitWithin(t, 5*time.Second, "the last tick", func() bool { return remote.last() == n && local.last() == n })

	got := remote.list()
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("the remote client got ticks twice or out of order: %v", got)
	}
	// What was lost is one run of ticks, from the first lost, sent no
	// earlier than the kill, to the first received again: every tick from
	// there on arrived.
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
	lost := recovered - firstLost
	for i := recovered; i <= n; i++ {
		if !received[i] {
			t.Errorf("tick %d, sent %v after the restart (recovered at tick %d), was lost", i, sentAt[i-1].Sub(restarted).Round(time.Millisecond), recovered)
		}
	}
	resumed := sentAt[recovered-1].Sub(restarted)
	if resumed > 6*time.Second {
		t.Errorf("cross-node delivery resumed %v after the restart", resumed)
	}
	all := local.list()
	for i, v := range all {
		if v != i+1 {
			t.Fatalf("the local client's tick %d is %d: local delivery lost or repeated one", i+1, v)
		}
	}
	if len(all) != n {
		t.Errorf("the local client got %d of %d ticks", len(all), n)
	}
	t.Logf("%d ticks sent, %d lost (sent while PostgreSQL was down or the listener away); cross-node delivery resumed %v after the restart",
		n, lost, resumed.Round(10*time.Millisecond))

	// Requests cross again, once both nodes listen again: both count each
	// other and acks cross.
	waitFor(t, "two nodes again", func() bool { return serverCount(a) == 2 && serverCount(b) == 2 })
	collect(onB, "ping")
	waitFor(t, "acks across nodes again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		acks, err := a.srv.To(onB.ID()).EmitWithAck(ctx, "ping")
		return err == nil && len(acks) == 1
	})
}

// PostgreSQL stopped (SIGSTOP, its backends too) for five seconds wedges
// no node: broadcasts keep reaching local clients without each waiting
// for the server, requests end at their timeouts, and once it continues
// (SIGCONT) the nodes talk again by themselves. Closing the nodes then
// leaves no goroutine behind.
func TestPostgresPausedDoesNotWedge(t *testing.T) {
	pg := siotest.StartPostgres(t)
	before := goleak.IgnoreCurrent()
	a, b := startNode(t, pg, nodeOptions{}), startNode(t, pg, nodeOptions{})
	onA, onB := dial(t, a, "r"), dial(t, b, "r")
	local, remote := collectTicks(onA), collectTicks(onB)
	waitFor(t, "two nodes", func() bool { return serverCount(a) == 2 })
	_ = a.srv.Emit("tick", 1)
	waitFor(t, "the first tick", func() bool { return remote.last() == 1 })

	pg.Pause()
	paused := time.Now()
	start := time.Now()
	for i := 2; i <= 21; i++ {
		_ = a.srv.Emit("tick", i)
	}
	took := time.Since(start)
	waitFor(t, "the local ticks", func() bool { return local.last() == 21 })
	// The first broadcast waits for its statement's timeout (2s); the
	// others go out at once.
	if took > 3*time.Second {
		t.Errorf("20 broadcasts took %v while PostgreSQL was stopped", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A request waits for its publish's timeout, then for the answers'.
	start = time.Now()
	_, _ = b.srv.Of("/").FetchSockets(ctx)
	fetchTook := time.Since(start)
	if fetchTook > 5*time.Second {
		t.Errorf("FetchSockets took %v while PostgreSQL was stopped", fetchTook)
	}
	time.Sleep(5*time.Second - time.Since(paused))
	if l := remote.last(); l != 1 {
		t.Errorf("tick %d crossed while PostgreSQL was stopped", l)
	}
	pg.Resume()
	resumed := time.Now()

	i := 100
	waitFor(t, "cross-node broadcasts again", func() bool {
		i++
		_ = a.srv.Emit("tick", i)
		time.Sleep(50 * time.Millisecond)
		return remote.last() > 100
	})
	t.Logf("20 broadcasts took %v and FetchSockets %v with PostgreSQL stopped; cross-node delivery resumed %v after SIGCONT",
		took.Round(time.Millisecond), fetchTook.Round(time.Millisecond), time.Since(resumed).Round(10*time.Millisecond))
	waitFor(t, "FetchSockets across nodes again", func() bool {
		infos, err := b.srv.Of("/").FetchSockets(ctx)
		return err == nil && len(infos) == 2
	})

	onA.Manager().Close()
	onB.Manager().Close()
	a.close()
	b.close()
	goleak.VerifyNone(t, before)
}
