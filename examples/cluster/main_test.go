package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/examples/chat/chatapp"
	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestTypedStreamAcrossNodes: a message sent on one node reaches a typed
// subscription held on another, through Redis, with either adapter.
func TestTypedStreamAcrossNodes(t *testing.T) {
	for _, adapter := range []string{"pubsub", "sharded", "streams"} {
		t.Run(adapter, func(t *testing.T) { testTypedStreamAcrossNodes(t, adapter) })
	}
}

// startChatNode serves a chat node on the Redis at redisAddr for the
// length of t, returning its URL and its Redis client.
func startChatNode(t *testing.T, redisAddr string, sticky bool, adapter string) (string, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rdb.Close() }) // after the server's close, which runs first
	return serveChatNode(t, rdb, nil, sticky, adapter), rdb
}

// serveChatNode serves a chat node with options(rdb, pool, sticky,
// adapter) for the length of t and returns its URL.
func serveChatNode(t *testing.T, rdb *redis.Client, pool *pgxpool.Pool, sticky bool, adapter string) string {
	t.Helper()
	opts, err := options(rdb, pool, sticky, adapter)
	if err != nil {
		t.Fatal(err)
	}
	srv, handler, err := chatapp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return siotest.Serve(t, handler, srv).URL
}

func testTypedStreamAcrossNodes(t *testing.T, adapter string) {
	r := siotest.StartRedis(t)
	var urls []string
	for range 2 {
		url, _ := startChatNode(t, r.Addr(), true, adapter)
		urls = append(urls, url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := func(url string) *chatv1sio.ChatServiceClient {
		s, err := sioclient.Connect(ctx, url+chatv1sio.ChatServiceNamespace, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Manager().Close() })
		return chatv1sio.NewChatServiceClient(rpc.NewClientConn(s))
	}
	watcher, sender := client(urls[0]), client(urls[1])
	feed, err := watcher.WatchRoom(ctx, &chatv1.WatchRoomRequest{Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	if _, err := sender.Join(ctx, &chatv1.JoinRequest{Room: "lobby", User: "bob"}); err != nil {
		t.Fatal(err)
	}
	sent, err := sender.SendMessage(ctx, &chatv1.SendMessageRequest{Room: "lobby", User: "bob", Text: "across nodes"})
	if err != nil {
		t.Fatal(err)
	}
	for update, err := range feed.All() {
		if err != nil {
			t.Fatal(err)
		}
		if m := update.GetMessage(); m.GetText() == "across nodes" {
			if m.GetId() != sent.GetId() {
				t.Errorf("id %d, the sender was told %d", m.GetId(), sent.GetId())
			}
			return
		}
	}
}
