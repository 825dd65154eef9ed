// Command cluster runs one node of a multi-node chat: the chat example on
// the Redis adapter, with connection state recovery. Start several nodes on
// one Redis; clients of every node share rooms, feeds and presence.
//
//	redis-server --port 6379 --save "" &
//	go run ./examples/cluster -addr 127.0.0.1:8081 &
//	go run ./examples/cluster -addr 127.0.0.1:8082
//
// Behind a load balancer, long-polling needs sticky sessions: nginx.conf
// here hashes on the client's address, haproxy.cfg routes on a cookie it
// inserts (TestBehindNginx and TestBehindHAProxy run them). -sticky sets
// the Engine.IO cookie ("io") for balancers that want one.
// WebSocket-only clients need no stickiness. -adapter chooses how the
// nodes talk: pubsub (Redis pub/sub, the default), sharded (Redis 7 sharded
// pub/sub, where recovery works within one node only) or streams (Redis
// Streams, which a node reads again from where it was after an outage) or
// postgres (PostgreSQL LISTEN/NOTIFY, on the database -postgres names;
// recovery is then within one node only).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/examples/chat/chatapp"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/postgresadapter"
	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/redisstreamsadapter"
	"github.com/sio-dev/sio/runtime/socketio"
)

// options returns the server options of a node with the adapter named by
// kind: pubsub, sharded or streams on rdb, or postgres on pool.
func options(rdb redis.UniversalClient, pool *pgxpool.Pool, sticky bool, kind string) (*socketio.Options, error) {
	opts := &socketio.Options{ConnectionStateRecovery: &socketio.RecoveryOptions{}}
	switch kind {
	case "postgres":
		opts.Adapter = postgresadapter.New(pool, nil)
	case "pubsub":
		opts.Adapter = redisadapter.New(rdb, nil)
	case "sharded":
		opts.Adapter = redisadapter.NewSharded(rdb, nil)
	case "streams":
		opts.Adapter = redisstreamsadapter.New(rdb, nil)
	default:
		return nil, fmt.Errorf("unknown adapter %q (pubsub, sharded, streams or postgres)", kind)
	}
	if sticky {
		opts.Engine.Cookie = &engineio.CookieOptions{HTTPOnly: true}
	}
	return opts, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to serve on")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis server")
	sticky := flag.Bool("sticky", false, "set the Engine.IO cookie for sticky load balancing")
	adapter := flag.String("adapter", "pubsub", "how nodes talk: pubsub, sharded (Redis 7 sharded pub/sub), streams (Redis Streams) or postgres")
	postgresURL := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL database, for -adapter postgres")
	flag.Parse()

	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	var pool *pgxpool.Pool
	if *adapter == "postgres" {
		var err error
		if pool, err = pgxpool.New(context.Background(), *postgresURL); err != nil {
			log.Fatal(err)
		}
		defer pool.Close()
	}
	opts, err := options(rdb, pool, *sticky, *adapter)
	if err != nil {
		log.Fatal(err)
	}
	srv, handler, err := chatapp.New(opts)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: handler}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// Sessions are handed over to the other nodes (recovery on Redis).
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = hs.Shutdown(shutdown)
	}()
	log.Printf("chat node on http://%s (Redis %s)", ln.Addr(), *redisAddr)
	fmt.Println("listening on", ln.Addr()) // for the tests that start nodes
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-stopped
}
