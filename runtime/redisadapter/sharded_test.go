package redisadapter

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// shardSubscribers counts the subscribers of a shard channel.
func shardSubscribers(t *testing.T, rdb redis.UniversalClient, channel string) int64 {
	t.Helper()
	n, err := shardNumSub(context.Background(), rdb, channel)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// In Dynamic mode a room has a channel of its own, which only the nodes
// holding the room subscribe to, for as long as they do; a socket's own
// room has none.
func TestShardedRoomChannels(t *testing.T) {
	r := startRedis(t)
	a, b := startNode(t, r, sharded, nil), startNode(t, r, sharded, nil)
	a1 := adaptertest.Dial(t, a.Node, "r")
	got := adaptertest.Collect(a1, "hello")
	waitFor(t, func() bool { return shardSubscribers(t, a.client, "socket.io#/#r#") == 1 })
	if n := shardSubscribers(t, a.client, "socket.io#/#"+a1.ID()+"#"); n != 0 {
		t.Errorf("a socket's own room has a channel with %d subscribers", n)
	}
	// b holds no socket in r, so it publishes on r's channel without
	// listening to it.
	_ = b.Srv.To("r").Emit("hello", "to r")
	adaptertest.Expect(t, got, `["to r"]`)
	_ = b.Srv.To(a1.ID()).Emit("hello", "to the socket")
	adaptertest.Expect(t, got, `["to the socket"]`)
	// Once a join returns, the room's channel is live: a broadcast sent
	// at once from the other node arrives, every time.
	for i := range 20 {
		room := "fresh-" + strconv.Itoa(i)
		a.Srv.Of("/").In(a1.ID()).Local().SocketsJoin(room)
		_ = b.Srv.To(room).Emit("hello", room)
		adaptertest.Expect(t, got, `["`+room+`"]`)
	}
	a1.Manager().Close()
	waitFor(t, func() bool { return shardSubscribers(t, a.client, "socket.io#/#r#") == 0 })
}

// In Static mode everything travels on the namespace's channel; acks and
// server-side emits carry binary both ways (as msgpack).
func TestShardedStaticModeAndBinary(t *testing.T) {
	r := startRedis(t)
	start := func() *node {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
		return startNodeOn(t, rdb, NewSharded(rdb, &ShardedOptions{SubscriptionMode: Static, RequestsTimeout: 2 * time.Second}), func(srv *socketio.Server) {
			srv.Of("/").OnServerSideEmit("bytes", func(args socketio.Args, ack socketio.Ack) {
				b, _ := args.Bytes(0)
				_ = ack(append(slices.Clone(b), 9))
			})
		})
	}
	a, b := start(), start()
	b1 := adaptertest.Dial(t, b.Node, "r")
	b1.On("ping", func(_ *sioclient.Socket, _ sioclient.Args, ack sioclient.Ack) { _ = ack([]byte{4, 2}) })
	got := adaptertest.Collect(b1, "hello")
	_ = a.Srv.To("r").Emit("hello", "static")
	adaptertest.Expect(t, got, `["static"]`)
	if n := shardSubscribers(t, a.client, "socket.io#/#r#"); n != 0 {
		t.Errorf("a room channel has %d subscribers in Static mode", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	acks, err := a.Srv.To("r").EmitWithAck(ctx, "ping")
	if err != nil || len(acks) != 1 {
		t.Fatalf("acks %v, %v", acks, err)
	}
	if bs, ok := acks[0].Bytes(0); !ok || !slices.Equal(bs, []byte{4, 2}) {
		t.Errorf("binary ack arrived as %s", acks[0])
	}
	answers, err := a.Srv.Of("/").ServerSideEmitWithAck(ctx, "bytes", []byte{1, 2})
	if err != nil || len(answers) != 1 {
		t.Fatalf("answers %v, %v", answers, err)
	}
	if bs, ok := answers[0].Bytes(0); !ok || !slices.Equal(bs, []byte{1, 2, 9}) {
		t.Errorf("binary answer arrived as %s", answers[0])
	}
}

// On a Redis Cluster the channels of the namespace and of its rooms fall
// in different slots, on different cluster nodes; everything still
// reaches every Go node, and subscriptions survive a cluster node restart.
func TestShardedOnRedisCluster(t *testing.T) {
	rc := siotest.StartRedisCluster(t, 3)
	start := func() *node {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs(), MaxRetries: 3, DialTimeout: time.Second})
		return startNodeOn(t, rdb, NewSharded(rdb, &ShardedOptions{RequestsTimeout: 2 * time.Second}), nil)
	}
	a, b := start(), start()
	rooms := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	slots := map[int]bool{}
	var clients []*sioclient.Socket
	var got []chan string
	for i, room := range rooms {
		slots[hashSlot("socket.io#/#"+room+"#")] = true
		n := a
		if i%2 == 1 {
			n = b
		}
		c := adaptertest.Dial(t, n.Node, room)
		clients = append(clients, c)
		got = append(got, adaptertest.Collect(c, "hello"))
	}
	if len(slots) < 3 {
		t.Fatalf("the rooms' channels share slots: %v", slots)
	}
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	for _, room := range rooms {
		waitFor(t, func() bool { return shardSubscribers(t, a.client, "socket.io#/#"+room+"#") == 1 })
	}
	for i, room := range rooms {
		_ = a.Srv.To(room).Emit("hello", room)
		adaptertest.Expect(t, got[i], `["`+room+`"]`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	acks, err := b.Srv.Of("/").EmitWithAck(ctx, "hello", "all")
	if err != nil || len(acks) != len(rooms) {
		t.Fatalf("acks %d, %v", len(acks), err)
	}
	for _, ch := range got {
		adaptertest.Expect(t, ch, `["all"]`)
	}
	infos, err := a.Srv.Of("/").FetchSockets(ctx)
	if err != nil || len(infos) != len(rooms) {
		t.Fatalf("FetchSockets: %d, %v", len(infos), err)
	}

	// Our slot function agrees with the cluster's.
	for _, ch := range []string{"socket.io#/#", "socket.io#/#r1#", "{tag}x", "a{}b", "é"} {
		out, err := exec.Command("redis-cli", "-p", rc.Nodes[0].Port, "cluster", "keyslot", ch).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := strconv.Atoi(strings.TrimSpace(string(out))); hashSlot(ch) != want {
			t.Errorf("hashSlot(%q) = %d, the cluster says %d", ch, hashSlot(ch), want)
		}
	}

	// A cluster node restarts: the connections to it come back and
	// resubscribe, each with the channels of one slot.
	r0 := rc.Nodes[0]
	r0.Stop()
	r0.Start(t)
	for i, room := range rooms {
		waitFor(t, func() bool {
			_ = a.Srv.To(room).Emit("hello", "again")
			select {
			case <-got[i]:
				return true
			case <-time.After(100 * time.Millisecond):
				return false
			}
		})
	}
	_ = clients
}

func TestLooksLikeSocketID(t *testing.T) {
	for room, want := range map[string]bool{
		"abcdefghijklmnopqrst":  true,
		"abcdefghijklmnopqrs":   false,
		strings.Repeat("é", 20): true,  // 40 bytes, 20 UTF-16 units
		strings.Repeat("😀", 10): true,  // surrogate pairs
		strings.Repeat("é", 10): false, // 20 bytes, 10 units
		strings.Repeat("€", 20): true,  // 60 bytes, 3 per unit
		strings.Repeat("€", 21): false,
		"room":                  false,
		"abcdefghijklmnopqrstu": false,
	} {
		if got := looksLikeSocketID(room); got != want {
			t.Errorf("looksLikeSocketID(%q) = %v", room, got)
		}
	}
}

// In DynamicPrivate mode a socket's own room has a channel too.
func TestShardedDynamicPrivateMode(t *testing.T) {
	r := startRedis(t)
	start := func() *node {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
		return startNodeOn(t, rdb, NewSharded(rdb, &ShardedOptions{SubscriptionMode: DynamicPrivate, RequestsTimeout: 2 * time.Second}), nil)
	}
	a, b := start(), start()
	a1 := adaptertest.Dial(t, a.Node, "")
	got := adaptertest.Collect(a1, "hello")
	if n := shardSubscribers(t, a.client, "socket.io#/#"+a1.ID()+"#"); n != 1 {
		t.Errorf("the socket's own channel has %d subscribers", n)
	}
	_ = b.Srv.To(a1.ID()).Emit("hello", "private")
	adaptertest.Expect(t, got, `["private"]`)
}
