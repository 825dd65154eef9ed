package redisadapter

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// collectMany records an event's arguments, with room for many.
func collectMany(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 1024)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) { ch <- args.String() })
	return ch
}

// redisClients counts the connections redis-server has, as CLIENT LIST
// shows them.
func redisClients(t *testing.T, addr string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(strings.TrimSpace(list), "\n") + 1
}

func TestNamespacesShareConnections(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, nil), startNode(t, r, kind, nil)
		a1, b1 := adaptertest.Dial(t, a.Node, "r"), adaptertest.Dial(t, b.Node, "r")
		cb1 := adaptertest.Collect(b1, "hello")
		_ = a1
		// Let the publishing pools settle at what one namespace uses.
		_ = a.Srv.To("r").Emit("hello", "one namespace")
		adaptertest.Expect(t, cb1, `["one namespace"]`)
		clients, goroutines := redisClients(t, r.Addr()), runtime.NumGoroutine()

		const namespaces = 300
		for i := range namespaces {
			a.Srv.Of(fmt.Sprintf("/n%d", i))
			b.Srv.Of(fmt.Sprintf("/n%d", i))
		}
		// Every namespace is subscribed on both nodes: each counts two.
		n, err := a.Srv.Of(fmt.Sprintf("/n%d", namespaces-1)).Adapter().ServerCount(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("server count %d, %v; want 2", n, err)
		}
		_ = a.Srv.To("r").Emit("hello", "many namespaces")
		adaptertest.Expect(t, cb1, `["many namespaces"]`)
		after, afterG := redisClients(t, r.Addr()), runtime.NumGoroutine()
		t.Logf("%d namespaces on two nodes: redis clients %d -> %d, goroutines %d -> %d", namespaces, clients, after, goroutines, afterG)
		// The command pool may open one more for the count asked above;
		// a connection per namespace would be 600 more.
		if after > clients+2 {
			t.Errorf("redis clients grew from %d to %d with %d namespaces", clients, after, namespaces)
		}
		if afterG > goroutines+10 {
			t.Errorf("goroutines grew from %d to %d with %d namespaces", goroutines, afterG, namespaces)
		}
	})
}

// queueKinds are both adapters with a publish queue bound of their own.
func queueKind(name string, maxBytes int, maxAge time.Duration) []adapterKind {
	return []adapterKind{
		{name + "/classic", func(c redis.UniversalClient) sioadapter.Factory {
			return New(c, &Options{RequestsTimeout: 2 * time.Second, MaxQueueBytes: maxBytes, MaxQueueAge: maxAge})
		}},
		{name + "/sharded", func(c redis.UniversalClient) sioadapter.Factory {
			return NewSharded(c, &ShardedOptions{RequestsTimeout: 2 * time.Second, MaxQueueBytes: maxBytes, MaxQueueAge: maxAge})
		}},
	}
}

// queueDown reports whether n's publish queue has seen Redis fail.
func queueDown(n *node) bool {
	switch a := n.Srv.Of("/").Adapter().(type) {
	case *Adapter:
		return a.hub.pub.down.Load()
	case *ShardedAdapter:
		return a.hub.pub.down.Load()
	}
	return false
}

// queuedBytes reports the bytes n's publisher holds: waiting, or sent and not
// yet confirmed by Redis.
func queuedBytes(n *node) int {
	var p *publisher
	switch a := n.Srv.Of("/").Adapter().(type) {
	case *Adapter:
		p = a.hub.pub
	case *ShardedAdapter:
		p = a.hub.pub
	default:
		return 0
	}
	_, bytes := p.q.Len()
	return bytes
}

func dropped(n *node) uint64 {
	switch a := n.Srv.Of("/").Adapter().(type) {
	case *Adapter:
		return a.Dropped()
	case *ShardedAdapter:
		return a.Dropped()
	}
	return 0
}

func TestOutageQueuesWithoutBlocking(t *testing.T) {
	for _, kind := range queueKind("default", 0, 0) {
		t.Run(kind.name, func(t *testing.T) {
			r := startRedis(t)
			a, b := startNode(t, r, kind, nil), startNode(t, r, kind, nil)
			a1, b1 := adaptertest.Dial(t, a.Node, "r"), adaptertest.Dial(t, b.Node, "r")
			ca1, cb1 := collectMany(a1, "hello"), collectMany(b1, "hello")
			_ = a.Srv.To("r").Emit("hello", "before")
			adaptertest.Expect(t, ca1, `["before"]`)
			adaptertest.Expect(t, cb1, `["before"]`)
			r.Stop()
			// Local delivery does not wait for Redis: the node's own
			// client gets every broadcast at once.
			const sent = 50
			start := time.Now()
			for i := range sent {
				if err := a.Srv.To("r").Emit("hello", i); err != nil {
					t.Fatal(err)
				}
			}
			for i := range sent {
				adaptertest.Expect(t, ca1, fmt.Sprintf("[%d]", i))
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("%d local broadcasts took %v while Redis was down", sent, took)
			}
			adaptertest.ExpectNothing(t, cb1)
			// An outage shorter than go-redis's own redialling is not
			// one the queue sees: it must have failed before Redis
			// returns.
			waitFor(t, func() bool { return queueDown(a) })
			r.Start(t)
			started := time.Now()
			adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(b.Node) == 2 })
			t.Logf("both nodes subscribed again %v after the restart", time.Since(started))
			// What was queued reaches the other node, in order, once
			// Redis is back.
			for i := range sent {
				adaptertest.Expect(t, cb1, fmt.Sprintf("[%d]", i))
			}
			if d := dropped(a); d != 0 {
				t.Errorf("dropped %d, want 0", d)
			}
		})
	}
}

func TestOutagePastTheBoundDropsAndCounts(t *testing.T) {
	// With 3s, the first publish fails well within the bound, and the
	// messages grow too old while the queue waits for a ping to answer:
	// they must not be sent when Redis returns.
	kinds := append(queueKind("age", 0, 300*time.Millisecond), queueKind("age3s", 0, 3*time.Second)...)
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			r := startRedis(t)
			a, b := startNode(t, r, kind, nil), startNode(t, r, kind, nil)
			b1 := adaptertest.Dial(t, b.Node, "r")
			cb1 := collectMany(b1, "hello")
			r.Stop()
			const sent = 20
			for i := range sent {
				_ = a.Srv.To("r").Emit("hello", i)
			}
			waitFor(t, func() bool { return queueDown(a) && dropped(a) == sent })
			r.Start(t)
			adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
			_ = a.Srv.To("r").Emit("hello", "after")
			adaptertest.Expect(t, cb1, `["after"]`)
			if d := dropped(a); d != sent {
				t.Errorf("dropped %d, want exactly %d", d, sent)
			}
		})
	}
	for _, kind := range queueKind("bytes", 2000, 0) {
		t.Run(kind.name, func(t *testing.T) {
			r := startRedis(t)
			a, b := startNode(t, r, kind, nil), startNode(t, r, kind, nil)
			b1 := adaptertest.Dial(t, b.Node, "r")
			cb1 := collectMany(b1, "hello")
			_ = a.Srv.To("r").Emit("hello", "before")
			adaptertest.Expect(t, cb1, `["before"]`)
			r.Stop()
			const sent = 20
			for i := range sent {
				_ = a.Srv.To("r").Emit("hello", fmt.Sprintf("%d %s", i, strings.Repeat("x", 500)))
			}
			d := dropped(a)
			if d == 0 || d >= sent {
				t.Fatalf("dropped %d of %d with a queue of 2000 bytes", d, sent)
			}
			waitFor(t, func() bool { return queueDown(a) })
			r.Start(t)
			adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(b.Node) == 2 })
			// Exactly what was not dropped arrives.
			for range sent - int(d) {
				select {
				case <-cb1:
				case <-time.After(10 * time.Second):
					t.Fatalf("fewer than %d of %d arrived (%d dropped)", sent-int(d), sent, d)
				}
			}
			// They arrive while Redis has yet to confirm them to a, whose
			// queue is full until it has: a message sent then would be
			// dropped, as the bound says. Once it is empty, none is.
			waitFor(t, func() bool { return queuedBytes(a) == 0 })
			_ = a.Srv.To("r").Emit("hello", "after")
			adaptertest.Expect(t, cb1, `["after"]`)
			if got := dropped(a); got != d {
				t.Errorf("dropped %d after the outage, want still %d", got, d)
			}
		})
	}
}
