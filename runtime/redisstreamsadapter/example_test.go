package redisstreamsadapter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/redisstreamsadapter"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// Two nodes share one Redis stream: what one broadcasts, the clients of
// the other receive; with connection state recovery, a client that loses
// its connection resumes on either node with what it missed.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")}) // such as "127.0.0.1:6379"
	defer rdb.Close()
	newNode := func() *socketio.Server {
		return socketio.NewServer(&socketio.Options{
			Adapter: redisstreamsadapter.New(rdb, &redisstreamsadapter.Options{
				StreamName: "socket.io", // the default
				MaxLen:     10_000,      // the default: what a late reader can catch up on
			}),
			ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 2 * time.Minute},
		})
	}
	a, b := newNode(), newNode()
	web := httptest.NewServer(b)
	defer web.Close()
	defer a.Close(context.Background())
	defer b.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := sioclient.Connect(ctx, web.URL, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Manager().Close()
	news := make(chan string, 1)
	client.On("news", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var text string
		_ = args.Decode(0, &text)
		news <- text
	})

	// The broadcast goes into the stream; node b reads it and delivers it.
	_ = a.Emit("news", "hello from node a")
	fmt.Println(<-news)
	// Output: hello from node a
}
