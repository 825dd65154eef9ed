package redisadapter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestMixedCluster runs a Go node and a Node socket.io node on one Redis,
// with @socket.io/redis-adapter's createAdapter (plus
// @socket.io/redis-emitter) and with its createShardedAdapter.
func TestMixedCluster(t *testing.T) {
	nodepeer.Require(t)
	forEachAdapter(t, testMixedCluster)
}

func testMixedCluster(t *testing.T, kind adapterKind) {
	r := startRedis(t)
	goNode := startNode(t, r, kind, func(srv *socketio.Server) {
		srv.Of("/").OnServerSideEmit("hello-nodes", func(args socketio.Args, ack socketio.Ack) {
			if ack != nil {
				_ = ack("go got " + args.String())
			}
		})
	})
	nodeURL := "http://127.0.0.1:" + nodepeer.Start(t, "listening", "cluster_node.mjs", kind.name, r.Port, "0").Port()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect := func(url, room string) *sioclient.Socket {
		s, err := sioclient.Connect(ctx, url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}},
			&sioclient.SocketOptions{Auth: map[string]string{"room": room}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Manager().Close() })
		return s
	}
	onGo, onNode, outsider := connect(goNode.URL, "r"), connect(nodeURL, "r"), connect(nodeURL, "other")
	cGo, cNode, cOut := collectAll(onGo, "hello"), collectAll(onNode, "hello"), collectAll(outsider, "hello")
	for _, s := range []*sioclient.Socket{onGo, onNode, outsider} {
		s.On("ping", func(s *sioclient.Socket, _ sioclient.Args, ack sioclient.Ack) {
			if ack == nil {
				t.Error("ping without an ack id")
				return
			}
			_ = ack(s.ID())
		})
	}

	waitFor(t, func() bool {
		n, _ := goNode.Srv.Of("/").Adapter().ServerCount(ctx)
		return n == 2
	})
	t.Run("go to node", func(t *testing.T) {
		_ = goNode.Srv.To("r").Emit("hello", "from go", []byte{1, 2})
		want := `["from go",{"_placeholder":true,"num":0}] [1 2]`
		adaptertest.Expect(t, cGo, want)
		adaptertest.Expect(t, cNode, want)
		adaptertest.ExpectNothing(t, cOut)
	})
	t.Run("node to go", func(t *testing.T) {
		if _, err := onNode.EmitWithAck(ctx, "broadcast", "r", "from node"); err != nil {
			t.Fatal(err)
		}
		want := `["from node",{"_placeholder":true,"num":0}] [7 8 9]`
		adaptertest.Expect(t, cGo, want)
		adaptertest.Expect(t, cNode, want)
		adaptertest.ExpectNothing(t, cOut)
	})
	t.Run("emitter to go", func(t *testing.T) {
		if kind.name != classic.name {
			t.Skip("@socket.io/redis-emitter publishes on the classic channels")
		}
		nodepeer.Run(t, 20*time.Second, "redis_emit.mjs", r.Port, "r", "from the emitter")
		want := `["from the emitter",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}] [4 5 6] [1]`
		adaptertest.Expect(t, cGo, want)
		adaptertest.Expect(t, cNode, want)
		adaptertest.ExpectNothing(t, cOut)
	})
	t.Run("broadcast acks both ways", func(t *testing.T) {
		responses, err := goNode.Srv.To("r").EmitWithAck(ctx, "ping")
		if err != nil {
			t.Fatal(err)
		}
		ids, want := adaptertest.SortedFirsts(responses), adaptertest.IDsOf(onGo, onNode)
		if !slices.Equal(ids, want) {
			t.Errorf("Go-initiated acks %v, want %v", ids, want)
		}
		fromNode, err := onNode.EmitWithAck(ctx, "broadcast-ack", "r")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := fromNode.Decode(0, &got); err != nil || !slices.Equal(got, want) {
			t.Errorf("Node-initiated acks %s, want %v", fromNode, want)
		}
	})
	t.Run("fetchSockets both ways", func(t *testing.T) {
		infos, err := goNode.Srv.Of("/").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
		if len(infos) != 3 || !slices.Contains(ids, onNode.ID()) || !slices.Contains(ids, outsider.ID()) {
			t.Errorf("Go sees %v", ids)
		}
		fromNode, err := onNode.EmitWithAck(ctx, "fetch")
		if err != nil {
			t.Fatal(err)
		}
		if s := fromNode.String(); !strings.Contains(s, onGo.ID()) || !strings.Contains(s, `"room":"r"`) {
			t.Errorf("Node sees %s", s)
		}
		count, _ := onNode.EmitWithAck(ctx, "count")
		if count.String() != "[2]" {
			t.Errorf("Node counts %s servers", count)
		}
	})
	t.Run("serverSideEmit", func(t *testing.T) {
		answers, err := goNode.Srv.Of("/").ServerSideEmitWithAck(ctx, "hello-nodes", "hi")
		if err != nil || len(answers) != 1 || answers[0].String() != `["node got hi"]` {
			t.Errorf("answers %v, %v", answers, err)
		}
	})
	t.Run("remote join and disconnect", func(t *testing.T) {
		goNode.Srv.Of("/").In(onNode.ID()).SocketsJoin("joined-from-go")
		if kind.name == sharded.name {
			// The broadcast takes the room's own channel, which the Node
			// node subscribes to once the join has made the room there.
			waitFor(t, func() bool {
				n, _ := goNode.client.PubSubShardNumSub(ctx, "socket.io#/#joined-from-go#").Result()
				return n["socket.io#/#joined-from-go#"] == 1
			})
		}
		_ = goNode.Srv.To("joined-from-go").Emit("hello", "joined")
		// With the classic adapter, the join request and the broadcast
		// travel in order on Redis.
		adaptertest.Expect(t, cNode, `["joined"]`)
		gone := adaptertest.WatchDisconnect(outsider)
		goNode.Srv.Of("/").In("other").DisconnectSockets(false)
		adaptertest.ExpectServerDisconnect(t, gone, "the Node node's socket")
	})
}

// collectAll records each event's arguments and attachments.
func collectAll(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 16)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		out := args.String()
		for i := range args.Len() {
			var v any
			_ = args.Decode(i, &v)
			out += attachmentsOf(v)
		}
		ch <- out
	})
	return ch
}

func attachmentsOf(v any) string {
	switch x := v.(type) {
	case []byte:
		return " " + fmt.Sprint(x)
	case map[string]any:
		out := ""
		for _, e := range x {
			out += attachmentsOf(e)
		}
		return out
	case []any:
		out := ""
		for _, e := range x {
			out += attachmentsOf(e)
		}
		return out
	}
	return ""
}
