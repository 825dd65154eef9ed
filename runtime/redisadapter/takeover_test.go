package redisadapter

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestRecoveryFromAHalfOpenConnection: with the sessions of connected
// sockets on Redis, a client back on the same node while its old
// connection still looks open there gets its session from the old socket,
// which leaves as a lost connection, rather than a second socket with the
// same id beside it; the rooms on Redis and in the adapter are the
// session's.
func TestRecoveryFromAHalfOpenConnection(t *testing.T) {
	r := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	t.Cleanup(func() { _ = rdb.Close() }) // after the server's close, which saves sessions
	srv := socketio.NewServer(&socketio.Options{
		Adapter:                 classic.new(rdb),
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute},
	})
	var mu sync.Mutex
	reasons := map[*socketio.Socket][]socketio.DisconnectReason{}
	sockets := make(chan *socketio.Socket, 4)
	srv.OnConnection(func(s *socketio.Socket) {
		s.OnDisconnect(func(s *socketio.Socket, r socketio.DisconnectReason) {
			mu.Lock()
			reasons[s] = append(reasons[s], r)
			mu.Unlock()
		})
		if !s.Recovered() {
			s.Join("room")
		}
		sockets <- s
	})
	hs := siotest.Serve(t, srv, srv)
	proxy := siotest.StartProxy(t, strings.TrimPrefix(hs.URL, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := sioclient.Connect(ctx, "http://"+proxy.Addr(), &sioclient.Options{
		Transports:        []string{engineio.TransportWebSocket},
		ReconnectionDelay: time.Millisecond, ReconnectionDelayMax: 20 * time.Millisecond, RandomizationFactor: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Manager().Close()
	news := make(chan int, 8)
	client.On("news", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var n int
		_ = args.Decode(0, &n)
		news <- n
	})
	back := make(chan struct{}, 4)
	client.OnConnect(func(*sioclient.Socket) { back <- struct{}{} })
	receive := func(ch <-chan int) int {
		t.Helper()
		select {
		case n := <-ch:
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("timed out")
			return 0
		}
	}
	first := <-sockets
	sid := first.ID()
	_ = srv.To("room").Emit("news", 0)
	if receive(news) != 0 {
		t.Fatal("no offset to resume from")
	}

	proxy.Strand() // the client comes back at once; the server saw nothing
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not come back")
	}
	second := <-sockets
	if !second.Recovered() || second.ID() != sid || client.ID() != sid {
		t.Fatalf("recovered %v as %q (client %q), want %q", second.Recovered(), second.ID(), client.ID(), sid)
	}
	mu.Lock()
	old := slices.Clone(reasons[first])
	mu.Unlock()
	if len(old) != 1 || old[0] != socketio.ReasonTransportClose || first.Connected() {
		t.Fatalf("the old socket: connected %v, disconnect reasons %v; want one transport close", first.Connected(), old)
	}
	if n := len(srv.Of("/").Sockets()); n != 1 {
		t.Fatalf("%d sockets on the namespace, want the recovered one", n)
	}
	if rooms := second.Rooms(); !slices.Contains(rooms, "room") || !slices.Contains(rooms, sid) {
		t.Fatalf("recovered socket's rooms %v", rooms)
	}
	_ = srv.To("room").Emit("news", 1)
	if n := receive(news); n != 1 {
		t.Fatalf("news %d after the recovery, want 1", n)
	}
	// The one session on Redis is the new socket's, live.
	keys, err := rdb.Keys(ctx, "socket.io#/#session#*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("session keys %v, %v; want one", keys, err)
	}
	raw, err := rdb.Get(ctx, keys[0]).Bytes()
	if err != nil {
		t.Fatalf("the live session is not on Redis: %v", err)
	}
	var stored storedSession
	if err := jsonUnmarshal(raw, &stored); err != nil || stored.SID != sid || !slices.Contains(stored.Rooms, "room") {
		t.Fatalf("the live session %s (%v)", raw, err)
	}
}
