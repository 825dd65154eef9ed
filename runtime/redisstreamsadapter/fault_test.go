package redisstreamsadapter

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// streamTicks returns the numbers of the ticks the stream holds, in order.
func streamTicks(t *testing.T, rdb *redis.Client) []int {
	t.Helper()
	entries, err := rdb.XRange(context.Background(), "socket.io", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		if e.Values["type"] != "3" {
			continue
		}
		var d struct {
			Packet struct {
				Data []json.RawMessage `json:"data"`
			} `json:"packet"`
		}
		if json.Unmarshal([]byte(e.Values["data"].(string)), &d) != nil || len(d.Packet.Data) != 2 || string(d.Packet.Data[0]) != `"tick"` {
			continue
		}
		n, _ := strconv.Atoi(string(d.Packet.Data[1]))
		out = append(out, n)
	}
	return out
}

// Redis is killed (SIGKILL) while a node broadcasts steadily, and started
// again on the same port; with appendonly and fsync on every write, the
// stream survives. Every node resumes by itself, and a client of the
// other node receives exactly what the stream holds: nothing lost, nothing
// twice, in order. The broadcaster's own client receives everything.
func TestRedisCrashLosesNothingTheStreamHolds(t *testing.T) {
	r := siotest.StartRedisWith(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	a, b := startNode(t, r, nodeOptions{}), startNode(t, r, nodeOptions{})
	onA, onB := dial(t, a, "r"), dial(t, b, "r")
	local, remote := collectTicks(onA), collectTicks(onB)
	waitFor(t, "two nodes", func() bool { return serverCount(a) == 2 })

	stop := make(chan struct{})
	var sent sync.WaitGroup
	sent.Add(1)
	n := 0
	go func() {
		defer sent.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n++
				_ = a.srv.Emit("tick", n)
			}
		}
	}()
	waitFor(t, "ticks before the crash", func() bool { return remote.last() >= 50 })
	r.Stop()
	beforeCrash := remote.last()
	time.Sleep(time.Second)
	r.Start(t)
	restarted := time.Now()
	waitFor(t, "ticks after the restart", func() bool { return remote.last() > beforeCrash+50 })
	resumed := time.Since(restarted)
	close(stop)
	sent.Wait()
	// The broadcasts' entries are appended after they return: let the
	// node's queue empty, then the last entries arrive.
	waitFor(t, "the append queue empty", func() bool {
		entries, _ := queuedBytes(a.srv.Of("/").Adapter().(*Adapter))
		return entries == 0
	})
	want := streamTicks(t, a.rdb)
	waitFor(t, "the stream's last tick", func() bool { return len(want) > 0 && remote.last() == want[len(want)-1] })

	got := remote.list()
	if !slices.Equal(got, want) {
		t.Errorf("the remote client got %d ticks, the stream holds %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	if !slices.Contains(want, beforeCrash) {
		t.Errorf("tick %d, read before the crash, is not in the restarted stream", beforeCrash)
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
	t.Logf("%d ticks sent, %d in the stream (the others while Redis was down); cross-node delivery resumed %v after the restart",
		n, len(want), resumed.Round(10*time.Millisecond))

	// Pub/sub is back too: both nodes count each other and acks cross.
	waitFor(t, "two nodes again", func() bool { return serverCount(a) == 2 && serverCount(b) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	collect(onB, "ping")
	acks, err := a.srv.To(onB.ID()).EmitWithAck(ctx, "ping")
	if err != nil || len(acks) != 1 {
		t.Errorf("acks after the restart: %v, %v", acks, err)
	}
}

// Redis stopped (SIGSTOP) for a while wedges no node: broadcasts keep
// reaching local clients without waiting for the broker each time, and
// once Redis continues (SIGCONT) the nodes talk again by themselves.
func TestRedisPausedDoesNotWedge(t *testing.T) {
	r := siotest.StartRedis(t)
	a, b := startNode(t, r, nodeOptions{}), startNode(t, r, nodeOptions{})
	onA, onB := dial(t, a, "r"), dial(t, b, "r")
	local, remote := collectTicks(onA), collectTicks(onB)
	waitFor(t, "two nodes", func() bool { return serverCount(a) == 2 })
	_ = a.srv.Emit("tick", 1)
	waitFor(t, "the first tick", func() bool { return remote.last() == 1 })

	r.Pause()
	paused := time.Now()
	start := time.Now()
	for i := 2; i <= 21; i++ {
		_ = a.srv.Emit("tick", i)
	}
	took := time.Since(start)
	waitFor(t, "the local ticks", func() bool { return local.last() == 21 })
	// The first broadcast waits for the client's read timeout (1s); the
	// others go out at once.
	if took > 2500*time.Millisecond {
		t.Errorf("20 broadcasts took %v while Redis was stopped", took)
	}
	time.Sleep(3*time.Second - time.Since(paused))
	r.Resume()
	resumed := time.Now()

	i := 100
	waitFor(t, "cross-node broadcasts again", func() bool {
		i++
		_ = a.srv.Emit("tick", i)
		time.Sleep(50 * time.Millisecond)
		return remote.last() > 100
	})
	t.Logf("20 broadcasts took %v with Redis stopped; cross-node delivery resumed %v after SIGCONT", took.Round(time.Millisecond), time.Since(resumed).Round(10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	infos, err := b.srv.Of("/").FetchSockets(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("FetchSockets after SIGCONT: %d sockets, %v", len(infos), err)
	}
}
