// Command nsptarget is the server the namespace-flood attack runs against:
// a Socket.IO server built on the public API with a dynamic namespace
// (/room-<n>) at the default limits, in a process of its own.
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
	srv.OnConnection(func(*socketio.Socket) {})

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
