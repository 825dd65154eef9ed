package redisstreamsadapter

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
)

// Bad entries in the stream and bad messages on the channels are dropped
// (and logged); the node goes on, and what follows them arrives.
func TestMalformedInputIsDropped(t *testing.T) {
	r := siotest.StartRedis(t)
	a, b := startNode(t, r, nodeOptions{}), startNode(t, r, nodeOptions{})
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	ctx := context.Background()
	opts := `"opts":{"rooms":[],"except":[]}`
	entries := []map[string]any{
		{"nsp": "/", "type": "x"},
		{"nsp": "/", "type": "3"},
		{"nsp": "/", "type": "3", "data": "{not json"},
		{"nsp": "/", "type": "3", "data": "!!not base64"},
		{"nsp": "/", "type": "3", "data": base64.StdEncoding.EncodeToString([]byte{0xc1, 0xc1})},
		{"nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":"not an array"},` + opts + `}`},
		{"nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":[]},` + opts + `}`},
		{"nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":[42]},` + opts + `}`},
		{"nsp": "/", "type": "3", "data": `{"packet":{"type":3,"data":["hello"]},` + opts + `}`},
		{"nsp": "/", "type": "3", "data": `{"packet":null}`},
		{"nsp": "/", "type": "4", "data": `{"opts":{"rooms":5}}`},
		{"nsp": "/", "type": "6", "data": `{"close":true}`}, // no selection: not "everyone"
		{"nsp": "/", "type": "999", "data": "{}"},
		{"nsp": "/", "type": "-1"},
		{"type": "3", "data": "{}"},
	}
	for _, e := range entries {
		if err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "socket.io", Values: e}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	badType, _ := msgpack.Marshal(map[string]any{"uid": "x", "nsp": "/", "type": "seven"})
	badData, _ := msgpack.Marshal(map[string]any{"uid": "x", "nsp": "/", "type": 7, "data": map[string]any{"opts": "bad"}})
	badAnswer, _ := msgpack.Marshal(map[string]any{"uid": "x", "nsp": "/", "type": 8, "data": map[string]any{"requestId": 5}})
	for _, m := range []struct {
		channel string
		payload any
	}{
		{"socket.io#/#", "garbage"},
		{"socket.io#/#", badType},
		{"socket.io#/#", badData},
		{"socket.io#/#" + b.Srv.Of("/").Adapter().(*Adapter).UID() + "#", badAnswer},
	} {
		if err := a.rdb.Publish(ctx, m.channel, m.payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Srv.Emit("hello", "valid")
	adaptertest.Expect(t, got, `["valid"]`)
	adaptertest.ExpectNothing(t, got)
	if !onB.Connected() {
		t.Error("a malformed entry disconnected the client")
	}
	if n := adaptertest.ServerCount(b.Node); n != 2 {
		t.Errorf("b counts %d nodes", n)
	}
}
