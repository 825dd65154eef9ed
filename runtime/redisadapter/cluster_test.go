package redisadapter

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"))
}

// redisServer is the test's redis-server.
type redisServer = siotest.Redis

func startRedis(t *testing.T) *redisServer { return siotest.StartRedis(t) }

// node is one Go server of the cluster, with its Redis client.
type node struct {
	*adaptertest.Node
	client redis.UniversalClient
}

// adapterKind is an adapter the cluster tests run against.
type adapterKind struct {
	name string
	new  func(redis.UniversalClient) sioadapter.Factory
}

var (
	classic = adapterKind{"classic", func(c redis.UniversalClient) sioadapter.Factory {
		return New(c, &Options{RequestsTimeout: 2 * time.Second})
	}}
	sharded = adapterKind{"sharded", func(c redis.UniversalClient) sioadapter.Factory {
		return NewSharded(c, &ShardedOptions{RequestsTimeout: 2 * time.Second})
	}}
)

// forEachAdapter runs f once per adapter.
func forEachAdapter(t *testing.T, f func(t *testing.T, kind adapterKind)) {
	for _, kind := range []adapterKind{classic, sharded} {
		t.Run(kind.name, func(t *testing.T) { f(t, kind) })
	}
}

// startNode starts a node of kind on r; setup (if not nil) runs after
// each socket has joined the room its auth names.
func startNode(t *testing.T, r *redisServer, kind adapterKind, setup func(*socketio.Server)) *node {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
	return startNodeOn(t, rdb, kind.new(rdb), setup)
}

// startNodeOn starts a node on rdb with an adapter; the node closes rdb.
func startNodeOn(t *testing.T, rdb redis.UniversalClient, adapter sioadapter.Factory, setup func(*socketio.Server)) *node {
	t.Helper()
	n := adaptertest.StartNode(t, adapter, adaptertest.NodeOptions{Setup: setup}, func() { _ = rdb.Close() })
	return &node{Node: n, client: rdb}
}

// suite is kind as the shared suites see it.
func suite(kind adapterKind) adaptertest.Adapter[*redisServer] {
	return adaptertest.Adapter[*redisServer]{
		StartBroker: siotest.StartRedis,
		StartNode: func(t *testing.T, r *redisServer, o adaptertest.NodeOptions) *adaptertest.Node {
			return startNode(t, r, kind, o.Setup).Node
		},
		// A node subscribes before it serves, and the count is Redis's
		// count of subscribers.
		CountWithin: 0,
	}
}

// Three Go nodes on one Redis, with each adapter: everything a cluster
// adapter does crosses them.
func TestCluster(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) { adaptertest.RunCluster(t, suite(kind)) })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	adaptertest.WaitFor(t, "the condition", cond)
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
