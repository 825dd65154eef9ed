// Command nsptarget is the server the namespace-flood and UTF-8 attacks
// run against: a Socket.IO server built on the public API at the default
// limits, in a process of its own, with a dynamic namespace (/room-<n>)
// and, on "/", events "join" (joins room "room", acks) and "relay" (sends
// its first argument, as received, to that room as "relayed").
//
// It follows the siotest program contract (-addr; first stdout line
// "listening on host:port") and answers GET /stats with its heap in use
// after a garbage collection and its goroutine count, as JSON.
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

	"github.com/sio-dev/sio/runtime/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	srv := socketio.NewServer(nil)
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
		_ = json.NewEncoder(w).Encode(map[string]uint64{"heap": m.HeapAlloc, "goroutines": uint64(runtime.NumGoroutine())})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
