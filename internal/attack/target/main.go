// Command target is the server the attacks of internal/attack run against:
// a Socket.IO server built only on the public API (socketio.NewServer and
// Server.Serve), in a process of its own that follows siotest's process
// contract. Flags scale its limits down so that an attack ends in seconds.
//
// It serves its own counts as JSON on -stats-addr at /debug/stats:
// goroutines, open file descriptors, live heap after a GC, and Engine.IO
// sessions.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
)

// Stats is what /debug/stats returns.
type Stats struct {
	Goroutines int    `json:"goroutines"`
	FDs        int    `json:"fds"`
	HeapAlloc  uint64 `json:"heapAlloc"`
	Sessions   int    `json:"sessions"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	statsAddr := flag.String("stats-addr", "", "address of the /debug/stats endpoint (off if empty)")
	nofile := flag.Uint64("nofile", 0, "lower RLIMIT_NOFILE to this (0: leave it)")
	pingInterval := flag.Duration("ping-interval", 0, "engineio PingInterval (0: default)")
	pingTimeout := flag.Duration("ping-timeout", 0, "engineio PingTimeout (0: default)")
	connectTimeout := flag.Duration("connect-timeout", 0, "socketio ConnectTimeout (0: default)")
	maxPending := flag.Int("max-pending", 0, "engineio MaxPendingBytes (0: default)")
	flag.Parse()

	if *nofile > 0 {
		lim := syscall.Rlimit{Cur: *nofile, Max: *nofile}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Fatalf("setrlimit: %v", err)
		}
	}
	srv := socketio.NewServer(&socketio.Options{
		ConnectTimeout: *connectTimeout,
		Engine: engineio.Options{
			PingInterval:    *pingInterval,
			PingTimeout:     *pingTimeout,
			MaxPendingBytes: *maxPending,
		},
	})
	srv.OnConnection(func(s *socketio.Socket) {
		// "flood" makes the server send 64 KiB messages to this client
		// until it is cut off as a slow consumer.
		s.On("flood", func(*socketio.Socket, socketio.Args, socketio.Ack) {
			go flood(s)
		})
		// "echo" acks its first argument: a well-behaved client's round
		// trip, measured while others attack.
		s.On("echo", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			if ack != nil {
				_ = ack(args.Raw(0))
			}
		})
	})
	if *statsAddr != "" {
		go serveStats(*statsAddr, srv)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	log.Fatal(srv.Serve(ln))
}

func flood(s *socketio.Socket) {
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	msg := string(chunk)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if s.Emit("data", msg) != nil {
			return
		}
		time.Sleep(5 * time.Millisecond) // slow enough for /debug/stats to see the peak
	}
}

func serveStats(addr string, srv *socketio.Server) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fds, _ := os.ReadDir("/proc/self/fd")
		_ = json.NewEncoder(w).Encode(Stats{
			Goroutines: runtime.NumGoroutine(),
			FDs:        len(fds),
			HeapAlloc:  ms.HeapAlloc,
			Sessions:   srv.Engine().Len(),
		})
	})
	log.Fatal(http.ListenAndServe(addr, mux))
}
