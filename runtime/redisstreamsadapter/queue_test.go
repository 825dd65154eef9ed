package redisstreamsadapter

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// xaddCounter counts the round trips that carry XADDs, and the XADDs.
type xaddCounter struct {
	trips, xadds atomic.Int64
}

func (c *xaddCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *xaddCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "xadd" {
			c.trips.Add(1)
			c.xadds.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *xaddCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, cmd := range cmds {
			if cmd.Name() == "xadd" {
				n++
			}
		}
		if n > 0 {
			c.trips.Add(1)
			c.xadds.Add(int64(n))
		}
		return next(ctx, cmds)
	}
}

// seqs records the (emitter, n) pairs of the "seq" events a client
// receives, and the offsets appended to them.
type seqs struct {
	mu      sync.Mutex
	got     [][2]int
	offsets [][]string // per emitter
}

func collectSeqs(s *sioclient.Socket, emitters int) *seqs {
	q := &seqs{offsets: make([][]string, emitters)}
	s.On("seq", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var g, n int
		var offset string
		_ = args.Decode(0, &g)
		_ = args.Decode(1, &n)
		_ = args.Decode(2, &offset)
		q.mu.Lock()
		q.got = append(q.got, [2]int{g, n})
		if g >= 0 && g < emitters {
			q.offsets[g] = append(q.offsets[g], offset)
		}
		q.mu.Unlock()
	})
	return q
}

func (q *seqs) list() [][2]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.got)
}

// streamSeqs returns the (emitter, n) pairs of the stream's "seq"
// broadcasts, in the stream's order.
func streamSeqs(t *testing.T, rdb *redis.Client) [][2]int {
	t.Helper()
	entries, err := rdb.XRange(context.Background(), "socket.io", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int
	for _, e := range entries {
		var d struct {
			Packet struct {
				Data []json.RawMessage `json:"data"`
			} `json:"packet"`
		}
		data, _ := e.Values["data"].(string)
		if json.Unmarshal([]byte(data), &d) != nil || len(d.Packet.Data) != 3 || string(d.Packet.Data[0]) != `"seq"` {
			continue
		}
		var g, n int
		_ = json.Unmarshal(d.Packet.Data[1], &g)
		_ = json.Unmarshal(d.Packet.Data[2], &n)
		out = append(out, [2]int{g, n})
	}
	return out
}

// Several goroutines of one node broadcast at once. Every node's clients
// get each goroutine's broadcasts in the order it made them, and in the
// stream's order; broadcasts made at the same time share round trips to
// Redis, also those that wait for their offset (with connection state
// recovery), whose offsets grow in each goroutine's order.
func TestQueueKeepsOrderUnderConcurrency(t *testing.T) {
	for _, recovery := range []bool{false, true} {
		name := "enqueued"
		if recovery {
			name = "waiting for offsets"
		}
		t.Run(name, func(t *testing.T) {
			r := siotest.StartRedis(t)
			a, b := startNode(t, r, nodeOptions{recovery: recovery}), startNode(t, r, nodeOptions{recovery: recovery})
			const emitters, each = 8, 200
			local, remote := collectSeqs(adaptertest.Dial(t, a.Node, "r"), emitters), collectSeqs(adaptertest.Dial(t, b.Node, "r"), emitters)
			adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
			var counter xaddCounter
			a.rdb.AddHook(&counter)

			var wg sync.WaitGroup
			for g := range emitters {
				wg.Go(func() {
					for n := range each {
						_ = a.Srv.To("r").Emit("seq", g, n)
					}
				})
			}
			wg.Wait()
			adaptertest.WaitFor(t, "every broadcast on both nodes", func() bool {
				return len(local.list()) == emitters*each && len(remote.list()) == emitters*each
			})

			for _, q := range []*seqs{local, remote} {
				next := make([]int, emitters)
				for _, p := range q.list() {
					if p[1] != next[p[0]] {
						t.Fatalf("emitter %d's broadcast %d arrived when %d was due", p[0], p[1], next[p[0]])
					}
					next[p[0]]++
				}
			}
			if got, want := remote.list(), streamSeqs(t, a.rdb); !slices.Equal(got, want) {
				t.Errorf("the other node's client got the broadcasts in another order than the stream's")
			}
			if recovery {
				for g, offsets := range local.offsets {
					for i := 1; i < len(offsets); i++ {
						if !offsetPattern.MatchString(offsets[i]) || !idLess(offsets[i-1], offsets[i]) {
							t.Fatalf("emitter %d: offset %q after %q", g, offsets[i], offsets[i-1])
						}
					}
				}
			}
			trips, xadds := counter.trips.Load(), counter.xadds.Load()
			t.Logf("%d XADDs in %d round trips", xadds, trips)
			if xadds != emitters*each {
				t.Errorf("%d XADDs for %d broadcasts", xadds, emitters*each)
			}
			if trips >= xadds {
				t.Errorf("%d round trips for %d XADDs: concurrent broadcasts do not share them", trips, xadds)
			}
		})
	}
}

// idLess reports whether stream entry id x comes before y.
func idLess(x, y string) bool {
	split := func(id string) (int, int) {
		ms, seq, _ := strings.Cut(id, "-")
		var a, b int
		_ = json.Unmarshal([]byte(ms), &a)
		_ = json.Unmarshal([]byte(seq), &b)
		return a, b
	}
	xm, xs := split(x)
	ym, ys := split(y)
	return xm < ym || xm == ym && xs < ys
}

// While Redis is stopped (SIGSTOP), broadcasts do not wait for it: they
// reach the local clients at once, and what is for the other nodes
// waits in the queue, within its bound; what does not fit is dropped and
// counted. Once Redis continues (SIGCONT), what the queue kept reaches
// the other node, in order, and broadcasts cross again.
func TestQueueBoundedWhileRedisStopped(t *testing.T) {
	r := siotest.StartRedis(t)
	const maxBytes = 32 << 10
	a := startNode(t, r, nodeOptions{adapter: &Options{RequestsTimeout: 2 * time.Second, BlockTime: time.Second, MaxQueueBytes: maxBytes}})
	b := startNode(t, r, nodeOptions{})
	local, remote := adaptertest.CollectTicks(adaptertest.Dial(t, a.Node, "r")), adaptertest.CollectTicks(adaptertest.Dial(t, b.Node, "r"))
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	_ = a.Srv.Emit("tick", 1)
	adaptertest.WaitFor(t, "the first tick", func() bool { return remote.Last() == 1 })
	adapter := a.Srv.Of("/").Adapter().(*Adapter)
	dropped := adapter.Dropped()

	// The first broadcast after Redis stops is on its way when its reply
	// fails to come: it is given up (it may still be appended, when Redis
	// continues), and Redis is known to be down.
	r.Pause()
	_ = a.Srv.Emit("tick", 2)
	adaptertest.WaitFor(t, "the entry under way given up", func() bool { return adapter.hub.isDown() && adapter.Dropped() == dropped+1 })
	dropped++
	const n = 2000
	payload := strings.Repeat("x", 1000)
	start := time.Now()
	peak, slowest := 0, time.Duration(0)
	for i := 3; i <= n+2; i++ {
		t0 := time.Now()
		_ = a.Srv.Emit("tick", i, payload)
		slowest = max(slowest, time.Since(t0))
		if _, bytes := queuedBytes(adapter); bytes > peak {
			peak = bytes
		}
	}
	took := time.Since(start)
	adaptertest.WaitFor(t, "the local ticks", func() bool { return local.Last() == n+2 })
	// None waits for Redis's reply (the client's read timeout is 1s).
	if slowest > 300*time.Millisecond {
		t.Errorf("a broadcast took %v while Redis was stopped", slowest)
	}
	if peak > maxBytes {
		t.Errorf("the queue held %d bytes, more than its bound of %d", peak, maxBytes)
	}
	// Every broadcast is queued or dropped, and stays so while Redis is
	// stopped.
	for range 2 {
		entries, _ := queuedBytes(adapter)
		if got := adapter.Dropped() - dropped + uint64(entries); got != n {
			t.Errorf("%d broadcasts queued or dropped, want %d", got, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
	kept := queuedTicks(adapter)
	if len(kept) == 0 || len(kept) > maxBytes/1000 {
		t.Fatalf("%d entries kept while Redis is stopped", len(kept))
	}
	t.Logf("%d broadcasts in %v (the slowest %v), the queue's peak %d bytes; %d kept, %d dropped",
		n, took.Round(time.Millisecond), slowest.Round(time.Microsecond), peak, len(kept), adapter.Dropped()-dropped)

	r.Resume()
	resumed := time.Now()
	adaptertest.WaitFor(t, "the kept ticks on the other node", func() bool { return remote.Last() >= kept[len(kept)-1] })
	got := remote.List()
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("the other node's ticks are out of order or repeated: %v", got)
	}
	for _, k := range kept {
		if !slices.Contains(got, k) {
			t.Errorf("tick %d, kept in the queue, did not reach the other node", k)
		}
	}
	i := n + 100
	adaptertest.WaitFor(t, "cross-node broadcasts again", func() bool {
		i++
		_ = a.Srv.Emit("tick", i)
		time.Sleep(20 * time.Millisecond)
		return remote.Last() > n+100
	})
	if d := adapter.Dropped() - dropped; d != uint64(n-len(kept)) {
		t.Errorf("%d dropped in all, want the %d that did not fit", d, n-len(kept))
	}
	t.Logf("cross-node delivery resumed %v after SIGCONT", time.Since(resumed).Round(10*time.Millisecond))
}
