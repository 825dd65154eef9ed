package redisadapter

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestRecoveryAcrossNodes: a client drops off node a, broadcasts go out
// while it is away, and it resumes on node b with its id, rooms and every
// missed packet.
func TestRecoveryAcrossNodes(t *testing.T) {
	nodepeer.Require(t)
	r := startRedis(t)
	var proxy atomic.Pointer[siotest.Proxy]
	var nodes [2]*node
	setup := func(name string) func(*socketio.Server) {
		return func(srv *socketio.Server) {
			srv.OnConnection(func(s *socketio.Socket) {
				s.On("where", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) { _ = ack(name) })
				s.On("join-news", func(s *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
					s.Join("news")
					_ = ack()
				})
				s.On("news-now", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
					var n int
					_ = args.Decode(0, &n)
					for i := range n {
						_ = srv.To("news").Emit("news", i)
					}
					_ = ack()
				})
				s.On("move-me", func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
					var from, n int
					_ = args.Decode(0, &from)
					_ = args.Decode(1, &n)
					p := proxy.Load()
					p.SetTarget(nodes[1].URL[len("http://"):])
					p.Cut()
					go func() {
						time.Sleep(30 * time.Millisecond) // the client is away
						for i := from; i < from+n; i++ {
							// Alternate nodes: offsets must agree cluster-wide.
							_ = nodes[i%2].Srv.To("news").Emit("news", i)
						}
					}()
				})
			})
		}
	}
	for i, name := range []string{"a", "b"} {
		nodes[i] = startRecoveryNode(t, r, setup(name))
	}
	proxy.Store(siotest.StartProxy(t, nodes[0].URL[len("http://"):]))
	nodepeer.Run(t, 30*time.Second, "recovery_client.mjs", "http://"+proxy.Load().Addr())
}

func startRecoveryNode(t *testing.T, r *redisServer, setup func(*socketio.Server)) *node {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
	srv := socketio.NewServer(&socketio.Options{
		Adapter:                 classic.new(rdb),
		ConnectionStateRecovery: &socketio.RecoveryOptions{},
	})
	setup(srv)
	n := &node{Node: &adaptertest.Node{Srv: srv}, client: rdb}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	n.URL = "http://" + ln.Addr().String()
	hs := newHTTPServer(srv)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = hs.Close()
		_ = rdb.Close()
	})
	return n
}

// TestLiveSessions: while a socket is connected its session is on Redis,
// rooms as of its last join or leave, its key's expiry pushed back while
// the node lives (so a node killed outright leaves its sessions to the
// others), and gone when the client leaves for good.
func TestLiveSessions(t *testing.T) {
	r := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	const maxAge = 1500 * time.Millisecond
	srv := socketio.NewServer(&socketio.Options{
		Adapter:                 classic.new(rdb),
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: maxAge},
	})
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			_ = ack()
		})
		s.On("leave", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Leave(room)
			_ = ack()
		})
	})
	url := siotest.Serve(t, srv, srv).URL
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := sioclient.Connect(ctx, url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Manager().Close()

	// stored reads the one session on Redis (nil if there is none).
	stored := func() *storedSession {
		t.Helper()
		keys, err := rdb.Keys(ctx, "socket.io#/#session#*").Result()
		if err != nil || len(keys) > 1 {
			t.Fatalf("session keys %v, %v", keys, err)
		}
		if len(keys) == 0 {
			return nil
		}
		raw, err := rdb.Get(ctx, keys[0]).Bytes()
		if err != nil {
			return nil
		}
		var s storedSession
		if err := jsonUnmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	s := stored()
	if s == nil || s.SID != client.ID() || !slices.Equal(s.Rooms, []string{client.ID()}) {
		t.Fatalf("after connecting: session %+v, want socket %s in its own room", s, client.ID())
	}
	if _, err := client.EmitWithAck(ctx, "join", "news"); err != nil {
		t.Fatal(err)
	}
	if s := stored(); s == nil || !slices.Contains(s.Rooms, "news") {
		t.Fatalf("after a join: session %+v, want room news", s)
	}
	// Past the key's own expiry: refreshed, it is still there.
	time.Sleep(maxAge + 500*time.Millisecond)
	if s := stored(); s == nil {
		t.Fatal("the live session expired while its node was up")
	}
	// A bulk join saves the session too.
	srv.To(client.ID()).SocketsJoin("bulk")
	if s := stored(); s == nil || !slices.Contains(s.Rooms, "bulk") {
		t.Fatalf("after SocketsJoin: session %+v, want room bulk", s)
	}
	// So does a bulk leave.
	srv.To(client.ID()).SocketsLeave("bulk")
	if s := stored(); s == nil || slices.Contains(s.Rooms, "bulk") {
		t.Fatalf("after SocketsLeave: session %+v, want no room bulk", s)
	}
	if _, err := client.EmitWithAck(ctx, "leave", "news"); err != nil {
		t.Fatal(err)
	}
	if s := stored(); s == nil || slices.Contains(s.Rooms, "news") {
		t.Fatalf("after a leave: session %+v, want no room news", s)
	}
	// A goodbye: nothing to recover, the session goes.
	client.Disconnect()
	deadline := time.Now().Add(5 * time.Second)
	for stored() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the session of a client that left is still on Redis")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
