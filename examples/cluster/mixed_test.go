package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestMixedClusterTypedStreams: a Go node serving the chat and a Node
// socket.io node (cluster_node.mjs, which serves the WatchRoom
// subscription by the wire mapping) on one Redis, with each Redis adapter
// (pub/sub, sharded pub/sub, Streams), and on one PostgreSQL, each adapter
// on both sides. Typed room-stream messages published on either node
// reach the typed subscribers of both.
func TestMixedClusterTypedStreams(t *testing.T) {
	nodepeer.Require(t)
	for _, adapter := range []string{"pubsub", "sharded", "streams", "postgres"} {
		t.Run(adapter, func(t *testing.T) {
			sharded := adapter == "sharded"
			var goURL, nodeURL string
			var rdb *redis.Client
			if adapter == "postgres" {
				pg := siotest.StartPostgres(t)
				goURL = startPostgresChatNode(t, pg.URL())
				nodeURL = "http://127.0.0.1:" + nodepeer.Start(t, "listening", "cluster_node.mjs", "postgres", pg.Port, "0").Port()
			} else {
				r := siotest.StartRedis(t)
				goURL, rdb = startChatNode(t, r.Addr(), false, adapter)
				nodeURL = "http://127.0.0.1:" + nodepeer.Start(t, "listening", "cluster_node.mjs", adapter, r.Port, "0").Port()
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			connect := func(url string) *sioclient.Socket {
				s, err := sioclient.Connect(ctx, url+chatv1sio.ChatServiceNamespace, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Manager().Close() })
				return s
			}
			onGo, onNode := connect(goURL), connect(nodeURL)
			// The Node node hears the Go node on the chat's namespace (its
			// adapter subscribes, or listens, after it starts serving).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				args, err := onNode.EmitWithAck(ctx, "count")
				var n int
				if err == nil && args.Decode(0, &n) == nil && n == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the Node node counts %d nodes on the chat's namespace, want 2 (%v)", n, err)
				}
			}
			watch := func(s *sioclient.Socket) *rpc.Stream[*chatv1.WatchRoomResponse] {
				st, err := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)).WatchRoom(ctx, &chatv1.WatchRoomRequest{Room: "lobby"})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			feeds := map[string]*rpc.Stream[*chatv1.WatchRoomResponse]{"go": watch(onGo), "node": watch(onNode)}
			if sharded {
				// Each node subscribes to the room's shard channel when the
				// room comes to exist on it; the Node adapter does so after
				// the join returns.
				channel := "socket.io#" + chatv1sio.ChatServiceNamespace + "#" + rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "lobby") + "#"
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					n, err := rdb.PubSubShardNumSub(ctx, channel).Result()
					if err == nil && n[channel] == 2 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%v subscribers of %s, want both nodes (%v)", n, channel, err)
					}
				}
			}
			// next returns the next chat text a feed hears (notices skipped).
			next := func(name string) string {
				for {
					res, err := feeds[name].Receive(ctx)
					if err != nil {
						t.Fatalf("%s's feed: %v", name, err)
					}
					if res.GetMessage().GetUser() != "" {
						return res.GetMessage().GetText()
					}
				}
			}

			// From Go: a message sent on the Go node is published to the
			// room stream, and reaches the Node node's subscriber too.
			sender := chatv1sio.NewChatServiceClient(rpc.NewClientConn(onGo))
			if _, err := sender.Join(ctx, &chatv1.JoinRequest{Room: "lobby", User: "ann"}); err != nil {
				t.Fatal(err)
			}
			if _, err := sender.SendMessage(ctx, &chatv1.SendMessageRequest{Room: "lobby", Text: "from go"}); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"go", "node"} {
				if got := next(name); got != "from go" {
					t.Errorf("%s's subscriber heard %q, want the message published on the Go node", name, got)
				}
			}

			// From Node: one broadcast of sio:stream to the key's room.
			b, _ := proto.Marshal(&chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Room: "lobby", User: "bob", Text: "from node"}})
			if _, err := onNode.EmitWithAck(ctx, "publish-stream", rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "lobby"), b); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"go", "node"} {
				if got := next(name); got != "from node" {
					t.Errorf("%s's subscriber heard %q, want the message published on the Node node", name, got)
				}
			}
		})
	}
}

// startPostgresChatNode serves the chat on the PostgreSQL adapter, on the
// database at url.
func startPostgresChatNode(t *testing.T, url string) string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // after the server's close, which runs first
	return serveChatNode(t, nil, pool, false, "postgres")
}
