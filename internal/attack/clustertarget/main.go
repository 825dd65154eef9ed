// Command clustertarget is a node of the cluster that the shutdown and
// broker-outage attacks run against: a Socket.IO server built on the
// public API with the Redis adapter and connection state recovery, in a
// process of its own. Every new socket joins the room "feed"; "where"
// acks the node's -name; "publish" (count, interval in microseconds) makes this node
// broadcast "tick" with 0..count-1 to "feed" and acks once done.
//
// SIGTERM stops it gracefully (Server.Shutdown), as a deployment would.
// It follows the siotest program contract (-addr; first stdout line
// "listening on host:port").
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis server")
	name := flag.String("name", "node", "what \"where\" answers")
	flag.Parse()

	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr, MaxRetries: 1, DialTimeout: time.Second})
	srv := socketio.NewServer(&socketio.Options{
		Adapter:                 redisadapter.New(rdb, &redisadapter.Options{Logger: slog.Default()}),
		ConnectionStateRecovery: &socketio.RecoveryOptions{},
	})
	srv.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			s.Join("feed")
		}
		s.On("where", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			if ack != nil {
				_ = ack(*name)
			}
		})
		s.On("publish", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var count, intervalUs int
			_ = args.Decode(0, &count)
			_ = args.Decode(1, &intervalUs)
			go func() {
				for i := range count {
					_ = srv.To("feed").Emit("tick", i)
					time.Sleep(time.Duration(intervalUs) * time.Microsecond)
				}
				if ack != nil {
					_ = ack(count)
				}
			}()
		})
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	// Serve returns once the shutdown has handed the sessions over.
	if err := srv.Serve(ln); err != nil {
		log.Fatal(err)
	}
	_ = rdb.Close()
}
