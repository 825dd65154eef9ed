package postgresadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// node is one Go server of the cluster.
type node struct {
	srv   *socketio.Server
	url   string
	pool  *pgxpool.Pool
	close func()
}

// nodeOptions are what a test changes of a node.
type nodeOptions struct {
	adapter *Options
	setup   func(*socketio.Server)
	logs    *siotest.SyncBuffer // receives the adapter's log, if set
	port    string              // where to connect instead of the server's port (a proxy)
}

// newPool returns a pool on pg (on port, if not "") that gives up
// connecting after 2s.
func newPool(t *testing.T, pg *siotest.Postgres, port string) *pgxpool.Pool {
	t.Helper()
	url := pg.URL()
	if port != "" {
		url = strings.Replace(url, ":"+pg.Port+"/", ":"+port+"/", 1)
	}
	cfg, err := pgxpool.ParseConfig(url + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// startNode starts a Go node on pg; it is closed when the test ends.
func startNode(t *testing.T, pg *siotest.Postgres, o nodeOptions) *node {
	t.Helper()
	pool := newPool(t, pg, o.port)
	ao := Options{RequestsTimeout: 2 * time.Second}
	if o.adapter != nil {
		ao = *o.adapter
	}
	if o.logs != nil {
		ao.Logger = slog.New(slog.NewTextHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if ao.Logger == nil {
		ao.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	srv := socketio.NewServer(&socketio.Options{Adapter: New(pool, &ao)})
	joinFromAuth(srv)
	if o.setup != nil {
		o.setup(srv)
	}
	hs := httptest.NewServer(srv)
	n := &node{srv: srv, url: hs.URL, pool: pool}
	closed := false
	n.close = func() {
		if closed {
			return
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
		pool.Close()
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

// collect records each event's arguments (binary as its length and first
// bytes), and acks with the socket's id.
func collect(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 4096)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		if b, ok := args.Bytes(0); ok {
			if len(b) > 8 {
				ch <- fmt.Sprintf("%d bytes %v", len(b), b[:4])
			} else {
				ch <- fmt.Sprint(b)
			}
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
			if len(got) > 200 {
				got = got[:200] + "…"
			}
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
	waitWithin(t, 10*time.Second, what, cond)
}

func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
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

// attachments returns how many rows the attachment table holds.
func attachments(t *testing.T, n *node) int {
	t.Helper()
	var count int
	if err := n.pool.QueryRow(context.Background(), "SELECT count(*) FROM socket_io_attachments").Scan(&count); err != nil {
		t.Fatal(err)
	}
	return count
}
