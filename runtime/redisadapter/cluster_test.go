package redisadapter

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"))
}

// redisServer is the test's redis-server.
type redisServer = siotest.Redis

func startRedis(t *testing.T) *redisServer { return siotest.StartRedis(t) }

// node is one Go server of the cluster.
type node struct {
	srv    *socketio.Server
	url    string
	client redis.UniversalClient
	close  func()
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

func startNode(t *testing.T, r *redisServer, kind adapterKind, setup func(*socketio.Server)) *node {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
	return startNodeOn(t, rdb, kind.new(rdb), setup)
}

// startNodeOn starts a node on rdb with an adapter; the node closes rdb.
func startNodeOn(t *testing.T, rdb redis.UniversalClient, adapter sioadapter.Factory, setup func(*socketio.Server)) *node {
	t.Helper()
	srv := socketio.NewServer(&socketio.Options{Adapter: adapter})
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	n := &node{srv: srv, url: hs.URL, client: rdb}
	closed := false
	n.close = func() {
		if closed {
			return
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
		_ = rdb.Close()
	}
	t.Cleanup(n.close)
	return n
}

// clusterSetup puts each socket in the room its auth names. It does so in
// middleware, which runs before the client is told it is connected, so the
// room is visible cluster-wide by the time the client acts.
func clusterSetup(srv *socketio.Server) {
	srv.Use(func(s *socketio.Socket) error {
		var auth struct {
			Room string `json:"room"`
		}
		_ = jsonUnmarshal(s.Handshake().Auth, &auth)
		if auth.Room != "" {
			s.Join(auth.Room)
		}
		s.SetData(map[string]string{"room": auth.Room})
		return nil
	})
}

func dial(t *testing.T, n *node, room string) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, n.url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, &sioclient.SocketOptions{Auth: map[string]string{"room": room}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

// collect records an event's first argument per client.
func collect(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 16)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		if b, ok := args.Bytes(0); ok {
			ch <- fmt.Sprint(b)
		} else {
			ch <- args.String()
		}
		if ack != nil {
			_ = ack("ack from " + s.ID())
		}
	})
	return ch
}

func expect(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received, want %s", want)
	}
}

func expectNothing(t *testing.T, ch chan string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Errorf("unexpected %s", got)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestBroadcastAcrossNodes(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, clusterSetup), startNode(t, r, kind, clusterSetup)
		a1, b1, b2 := dial(t, a, "r"), dial(t, b, "r"), dial(t, b, "other")
		ca1, cb1, cb2 := collect(a1, "hello"), collect(b1, "hello"), collect(b2, "hello")
		if n, err := a.srv.Of("/").Adapter().ServerCount(context.Background()); err != nil || n != 2 {
			t.Fatalf("ServerCount = %d, %v", n, err)
		}
		// Binary goes through Redis intact.
		if err := a.srv.To("r").Emit("hello", []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		expect(t, ca1, "[1 2 3]")
		expect(t, cb1, "[1 2 3]")
		expectNothing(t, cb2)
		// Except, from the other node.
		_ = b.srv.Of("/").Except("r").Emit("hello", map[string]any{"n": 1})
		expect(t, cb2, `[{"n":1}]`)
		expectNothing(t, ca1)
		// Local stays local.
		_ = b.srv.Of("/").Local().Emit("hello", "local")
		expect(t, cb1, `["local"]`)
		expect(t, cb2, `["local"]`)
		expectNothing(t, ca1)
	})
}

func TestBroadcastAcksAcrossNodes(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, clusterSetup), startNode(t, r, kind, clusterSetup)
		clients := []*sioclient.Socket{dial(t, a, "r"), dial(t, b, "r"), dial(t, b, "r")}
		for _, c := range clients {
			collect(c, "ping")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		responses, err := a.srv.To("r").EmitWithAck(ctx, "ping")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, res := range responses {
			var s string
			_ = res.Decode(0, &s)
			got = append(got, s)
		}
		var want []string
		for _, c := range clients {
			want = append(want, "ack from "+c.ID())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("acks %v, want %v", got, want)
		}
	})
}

func TestClusterOperations(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, clusterSetup), startNode(t, r, kind, clusterSetup)
		a1, b1 := dial(t, a, "r"), dial(t, b, "r")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()

		infos, err := a.srv.Of("/").FetchSockets(ctx)
		if err != nil || len(infos) != 2 {
			t.Fatalf("FetchSockets = %v, %v", infos, err)
		}
		for _, info := range infos {
			if !slices.Contains(info.Rooms, "r") || fmt.Sprint(info.Data) != "map[room:r]" {
				t.Errorf("socket %+v", info)
			}
			if info.ID == b1.ID() && (info.Handshake.Auth == nil || info.Handshake.Header().Get("Upgrade") != "websocket") {
				t.Errorf("remote handshake lost: %+v", info.Handshake)
			}
		}
		a.srv.Of("/").In("r").SocketsJoin("joined")
		waitFor(t, func() bool { return len(b.srv.Of("/").Adapter().Sockets([]string{"joined"})) == 1 })
		if len(a.srv.Of("/").Adapter().Sockets([]string{"joined"})) != 1 {
			t.Error("local socket did not join")
		}
		a.srv.Of("/").In("joined").SocketsLeave("joined")
		waitFor(t, func() bool { return len(b.srv.Of("/").Adapter().Sockets([]string{"joined"})) == 0 })

		reasons := make(chan sioclient.Reason, 1)
		b1.OnDisconnect(func(_ *sioclient.Socket, r sioclient.Reason) { reasons <- r })
		a.srv.Of("/").In(b1.ID()).DisconnectSockets(false)
		select {
		case r := <-reasons:
			if r != sioclient.ReasonServerDisconnect {
				t.Errorf("reason %q", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("remote socket was not disconnected")
		}
		if !a1.Connected() {
			t.Error("the local socket was disconnected too")
		}
	})
}

func TestServerSideEmit(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		got := make(chan string, 4)
		answering := func(name string) func(*socketio.Server) {
			return func(srv *socketio.Server) {
				srv.Of("/").OnServerSideEmit("hello", func(args socketio.Args, ack socketio.Ack) {
					var v string
					_ = args.Decode(0, &v)
					got <- name + " got " + v
					if ack != nil {
						_ = ack(name)
					}
				})
			}
		}
		a, _, _ := startNode(t, r, kind, answering("a")), startNode(t, r, kind, answering("b")), startNode(t, r, kind, answering("c"))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		answers, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "hello", "world")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ans := range answers {
			var n string
			_ = ans.Decode(0, &n)
			names = append(names, n)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"b", "c"}) {
			t.Errorf("answers %v (the sender must not answer itself)", names)
		}
		if err := a.srv.Of("/").ServerSideEmit(ctx, "hello", "again"); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for range 4 {
			select {
			case s := <-got:
				seen = append(seen, s)
			case <-time.After(3 * time.Second):
				t.Fatalf("saw only %v", seen)
			}
		}
		slices.Sort(seen)
		if !slices.Equal(seen, []string{"b got again", "b got world", "c got again", "c got world"}) {
			t.Errorf("seen %v", seen)
		}
	})
}

func TestNodeDying(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, clusterSetup), startNode(t, r, kind, clusterSetup)
		a1 := dial(t, a, "r")
		dial(t, b, "r")
		collect(a1, "ping")
		b.close()
		waitFor(t, func() bool {
			n, _ := a.srv.Of("/").Adapter().ServerCount(context.Background())
			return n == 1
		})
		// A broadcast with acks no longer waits for the dead node.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		responses, err := a.srv.To("r").EmitWithAck(ctx, "ping")
		if err != nil || len(responses) != 1 || time.Since(start) > 2*time.Second {
			t.Errorf("responses %d, err %v, after %v", len(responses), err, time.Since(start))
		}
	})
}

func TestRedisGoesAwayAndComesBack(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, clusterSetup), startNode(t, r, kind, clusterSetup)
		a1, b1 := dial(t, a, "r"), dial(t, b, "r")
		ca1, cb1 := collect(a1, "hello"), collect(b1, "hello")
		r.Stop()
		// Local delivery goes on without Redis.
		if err := a.srv.To("r").Emit("hello", "while down"); err != nil {
			t.Fatal(err)
		}
		expect(t, ca1, `["while down"]`)
		expectNothing(t, cb1)
		r.Start(t)
		// The subscriptions come back; what was queued meanwhile goes out
		// first, then cross-node delivery resumes.
		waitFor(t, func() bool {
			n, _ := a.srv.Of("/").Adapter().ServerCount(context.Background())
			return n == 2
		})
		_ = a.srv.To("r").Emit("hello", "back")
		expect(t, ca1, `["back"]`)
		// "while down" comes first if b had resubscribed when the queue
		// resumed (see TestOutageQueuesWithoutBlocking).
		got := <-waitMessage(t, cb1)
		if got == `["while down"]` {
			got = <-waitMessage(t, cb1)
		}
		if got != `["back"]` {
			t.Errorf("got %s, want [\"back\"]", got)
		}
	})
}

// waitMessage returns a channel with the next message of ch, or fails the
// test after 5s.
func waitMessage(t *testing.T, ch chan string) chan string {
	t.Helper()
	out := make(chan string, 1)
	select {
	case m := <-ch:
		out <- m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	return out
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
