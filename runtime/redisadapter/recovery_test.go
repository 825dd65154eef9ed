package redisadapter

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
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
					p.SetTarget(nodes[1].url[len("http://"):])
					p.Cut()
					go func() {
						time.Sleep(30 * time.Millisecond) // the client is away
						for i := from; i < from+n; i++ {
							// Alternate nodes: offsets must agree cluster-wide.
							_ = nodes[i%2].srv.To("news").Emit("news", i)
						}
					}()
				})
			})
		}
	}
	for i, name := range []string{"a", "b"} {
		nodes[i] = startRecoveryNode(t, r, setup(name))
	}
	proxy.Store(siotest.StartProxy(t, nodes[0].url[len("http://"):]))
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
	n := &node{srv: srv, client: rdb}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	n.url = "http://" + ln.Addr().String()
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
