package postgresadapter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sio-dev/sio/runtime/postgresadapter"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// Two nodes share one PostgreSQL: what one broadcasts, the clients of the
// other receive, through a NOTIFY on "socket.io#/".
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, os.Getenv("POSTGRES_URL")) // such as "postgres://user@127.0.0.1:5432/db"
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	newNode := func() *socketio.Server {
		return socketio.NewServer(&socketio.Options{
			Adapter: postgresadapter.New(pool, &postgresadapter.Options{
				ChannelPrefix:    "socket.io",             // the default
				TableName:        "socket_io_attachments", // the default, created if absent
				PayloadThreshold: 8000,                    // the default: larger messages go through the table
			}),
		})
	}
	a, b := newNode(), newNode()
	web := httptest.NewServer(b)
	defer web.Close()
	defer a.Close(context.Background())
	defer b.Close(context.Background())

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

	// Node b listens on its own connection; the NOTIFY reaches it.
	_ = a.Emit("news", "hello from node a")
	fmt.Println(<-news)
	// Output: hello from node a
}
