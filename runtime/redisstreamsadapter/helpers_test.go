package redisstreamsadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// node is one Go server of the cluster.
type node struct {
	srv   *socketio.Server
	url   string
	rdb   *redis.Client
	close func()
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
	so := &socketio.Options{Adapter: New(rdb, &ao)}
	if o.recovery {
		so.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
	}
	srv := socketio.NewServer(so)
	joinFromAuth(srv)
	if o.setup != nil {
		o.setup(srv)
	}
	hs := httptest.NewServer(srv)
	n := &node{srv: srv, url: hs.URL, rdb: rdb}
	closed := false
	n.close = func() {
		if closed {
			return
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
		_ = rdb.Close()
	}
	t.Cleanup(n.close)
	return n
}

// joinFromAuth puts each socket in the room its auth names, in middleware,
// so that the room is visible cluster-wide once the client is connected.
func joinFromAuth(srv *socketio.Server) {
	srv.Use(func(s *socketio.Socket) error {
		var auth struct {
			Room string `json:"room"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
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

// collect records each event's arguments, and acks with the socket's id.
func collect(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 4096)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		if b, ok := args.Bytes(0); ok {
			ch <- fmt.Sprint(b)
		} else {
			ch <- args.String()
		}
		if ack != nil {
			_ = ack(s.ID())
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
	case <-time.After(300 * time.Millisecond):
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serverCount(n *node) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, _ := n.srv.Of("/").Adapter().ServerCount(ctx)
	return c
}
