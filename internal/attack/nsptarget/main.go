// Command nsptarget is the server the namespace-flood and UTF-8 attacks
// run against: a Socket.IO server built on the public API at the default
// limits, in a process of its own, with a dynamic namespace (/room-<n>)
// and, on "/", events "join" (joins room "room", acks) and "relay" (sends
// its first argument, as received, to that room as "relayed").
//
// With -redis it runs on the Redis adapter, so that a flood of namespaces
// shows what it costs the broker.
//
// It follows the siotest program contract (-addr; first stdout line
// "listening on host:port") and answers GET /stats with its heap in use
// after a garbage collection, its goroutine count and its open file
// descriptors, as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	redisAddr := flag.String("redis", "", "run on the Redis adapter with this Redis server")
	flag.Parse()
	var opts socketio.Options
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer rdb.Close()
		opts.Adapter = redisadapter.New(rdb, nil)
	}
	srv := socketio.NewServer(&opts)
	srv.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	main := srv.Of("/")
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			s.Join("room")
			if ack != nil {
				_ = ack()
			}
		})
		s.On("relay", func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			_ = main.To("room").Emit("relayed", args.Raw(0))
		})
	})

	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fds, _ := os.ReadDir("/proc/self/fd")
		_ = json.NewEncoder(w).Encode(map[string]uint64{"heap": m.HeapAlloc, "goroutines": uint64(runtime.NumGoroutine()), "fds": uint64(len(fds))})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
