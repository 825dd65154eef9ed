package redisstreamsadapter

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// A broadcast's offset is its stream entry id, on the sending node's
// clients too; a client that loses its connection resumes on another
// node with its id, its rooms and what it missed, once.
func TestRecoveryAcrossNodes(t *testing.T) {
	r := siotest.StartRedis(t)
	a, b := startNode(t, r, nodeOptions{recovery: true}), startNode(t, r, nodeOptions{recovery: true})
	host := func(n *node) string { u, _ := url.Parse(n.URL); return u.Host }
	proxy := siotest.StartProxy(t, host(a))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Connect(ctx, "http://"+proxy.Addr(), &sioclient.Options{
		Transports: []string{engineio.TransportWebSocket}, ReconnectionDelay: 20 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond,
	}, &sioclient.SocketOptions{Auth: map[string]string{"room": "r"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Manager().Close() })
	got := adaptertest.Collect(c, "hello")
	id := c.ID()

	_ = a.Srv.To("r").Emit("hello", "one")
	last, err := a.rdb.XRevRangeN(ctx, "socket.io", "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("the stream's last entry: %v, %v", last, err)
	}
	adaptertest.Expect(t, got, `["one","`+last[0].ID+`"]`)

	// The client's attempts fail until the broadcast it misses is made.
	proxy.SetTarget("127.0.0.1:" + siotest.FreePort(t))
	proxy.Cut()
	adaptertest.WaitFor(t, "the session kept", func() bool {
		keys, _ := a.rdb.Keys(ctx, "sio:session:*").Result()
		return len(keys) == 1
	})
	_ = b.Srv.To("r").Emit("hello", "missed")
	_ = b.Srv.Of("/").Except("r").Emit("hello", "not for r")
	proxy.SetTarget(host(b))
	adaptertest.WaitFor(t, "the recovered reconnection", func() bool { return c.Connected() && c.Recovered() })
	if c.ID() != id {
		t.Fatalf("recovered as %s, was %s", c.ID(), id)
	}
	select {
	case s := <-got:
		if !strings.HasPrefix(s, `["missed","`) {
			t.Errorf("got %s, want the missed broadcast", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the missed broadcast did not arrive")
	}
	adaptertest.ExpectNothing(t, got)
	_ = a.Srv.To("r").Emit("hello", "after")
	adaptertest.Expect(t, got, `["after","`+mustLastID(t, a)+`"]`)
}

func mustLastID(t *testing.T, n *node) string {
	t.Helper()
	last, err := n.rdb.XRevRangeN(context.Background(), "socket.io", "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("the stream's last entry: %v, %v", last, err)
	}
	return last[0].ID
}
