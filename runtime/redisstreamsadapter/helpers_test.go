package redisstreamsadapter

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
)

// node is one Go server of the cluster, with its Redis client.
type node struct {
	*adaptertest.Node
	rdb *redis.Client
}

// nodeOptions are what a test changes of a node.
type nodeOptions struct {
	recovery bool
	adapter  *Options
	setup    func(*socketio.Server)
	client   func(*redis.Options)
}

// startNode starts a Go node on r; it is closed when the test ends.
func startNode(t *testing.T, r *siotest.Redis, o nodeOptions) *node {
	t.Helper()
	ro := &redis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	if o.client != nil {
		o.client(ro)
	}
	rdb := redis.NewClient(ro)
	ao := Options{RequestsTimeout: 2 * time.Second, BlockTime: time.Second}
	if o.adapter != nil {
		ao = *o.adapter
	}
	n := adaptertest.StartNode(t, New(rdb, &ao), adaptertest.NodeOptions{Recovery: o.recovery, Setup: o.setup}, func() { _ = rdb.Close() })
	return &node{Node: n, rdb: rdb}
}

// streams is the adapter as the shared suites see it.
var streams = adaptertest.Adapter[*siotest.Redis]{
	StartBroker: siotest.StartRedis,
	StartNode: func(t *testing.T, r *siotest.Redis, o adaptertest.NodeOptions) *adaptertest.Node {
		return startNode(t, r, nodeOptions{recovery: o.Recovery, setup: o.Setup}).Node
	},
	// A node subscribes before it serves.
	CountWithin: 0,
	Mixed: &adaptertest.Mixed[*siotest.Redis]{
		Peer:     "streams",
		Port:     func(r *siotest.Redis) string { return r.Port },
		Recovery: true,
		ClientArgs: func(r *siotest.Redis) []string {
			return []string{"large", "recovery-redis=" + r.Port}
		},
	},
	Fault: &adaptertest.Fault[*siotest.Redis]{
		// With appendonly and fsync on every write, the stream survives
		// a kill, and the nodes read on where they were.
		StartBroker: func(t testing.TB) *siotest.Redis {
			return siotest.StartRedisWith(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
		},
		Kept:      streamTicksOnceSent,
		TickEvery: 5 * time.Millisecond,
		// Broadcasts only enqueue their entries (they take milliseconds;
		// TestQueueBoundedWhileRedisStopped bounds each): this is the
		// bound of before the queue, when the first waited for the
		// client's read timeout (1s).
		PausedBroadcasts: 2500 * time.Millisecond,
		Pause:            3 * time.Second,
		HeardOnceCounted: true,
		IgnoreLeaks:      []goleak.Option{goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper")},
	},
}

// streamTicksOnceSent waits for from's append queue to empty (a
// broadcast's entry is appended after it returns), then returns the
// ticks the stream holds.
func streamTicksOnceSent(t *testing.T, r *siotest.Redis, from *adaptertest.Node) []int {
	t.Helper()
	adaptertest.WaitFor(t, "the append queue empty", func() bool {
		entries, _ := queuedBytes(from.Srv.Of("/").Adapter().(*Adapter))
		return entries == 0
	})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	return streamTicks(t, rdb)
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
