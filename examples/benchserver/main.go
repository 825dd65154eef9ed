// Command benchserver is the Go side of the load comparisons run by
// scripts/bench.sh: a Socket.IO server with the events cmd/siobench drives
// (the Node reference server, internal/nodepeer/scripts/bench_server.mjs,
// has the same), or, with -raw, a bare WebSocket echo as the ceiling.
// With -reuseport several processes share one port (scripts/idle-scale.sh);
// -cpuprofile and -memprofile write profiles when the process is stopped.
//
//	go run ./examples/benchserver -addr 127.0.0.1:4000
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/socketio"
)

// chat answers SendMessage at once, for the typed RPC scenario.
type chat struct {
	chatv1sio.UnimplementedChatServiceServer
}

func (chat) SendMessage(_ context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	return &chatv1.SendMessageResponse{Id: uint64(len(req.GetText()))}, nil
}

func newServer() (*socketio.Server, error) {
	srv := socketio.NewServer(nil)
	nsp := srv.Of("/")
	srv.OnConnection(func(s *socketio.Socket) {
		// echo answers with its arguments, binary included.
		s.On("echo", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			if ack == nil {
				return
			}
			if b, ok := args.Bytes(0); ok {
				_ = ack(b)
				return
			}
			_ = ack(args.Raw(0))
		})
		s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			if ack != nil {
				_ = ack()
			}
		})
		// fanout broadcasts its argument to a room, encoded once.
		s.On("fanout", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			_ = nsp.To(room).Emit("msg", args.Raw(1))
			if ack != nil {
				_ = ack()
			}
		})
	})
	return srv, chatv1sio.RegisterChatServiceServer(srv, chat{})
}

// rawEcho is a bare WebSocket echo, tuned as a ceiling: small read
// buffers, pooled write buffers, one goroutine per connection.
func rawEcho() http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, data, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(mt, data) != nil {
				return
			}
		}
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "address to serve on")
	raw := flag.Bool("raw", false, "serve a bare WebSocket echo instead")
	reusePort := flag.Bool("reuseport", false, "listen with SO_REUSEPORT, so that several processes share addr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until SIGINT or SIGTERM")
	memProfile := flag.String("memprofile", "", "write a heap profile here on SIGINT or SIGTERM")
	flag.Parse()
	if *cpuProfile != "" || *memProfile != "" {
		profileUntilSignal(*cpuProfile, *memProfile)
	}
	if *raw {
		log.Fatal(http.ListenAndServe(*addr, rawEcho()))
	}
	srv, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	if !*reusePort {
		log.Fatal(srv.ListenAndServe(*addr))
	}
	ln, err := listenReusePort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(ln, srv))
}

// profileUntilSignal starts a CPU profile and, on SIGINT or SIGTERM, writes
// it and a heap profile, then exits: the bench script stops servers with a
// signal, so a profiled run needs no other change.
func profileUntilSignal(cpuPath, memPath string) {
	var cpu *os.File
	if cpuPath != "" {
		var err error
		if cpu, err = os.Create(cpuPath); err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			log.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		if cpu != nil {
			pprof.StopCPUProfile()
			_ = cpu.Close()
		}
		if memPath != "" {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			log.Printf("memstats: heap in use %d KiB, heap idle %d KiB, heap released %d KiB, stacks %d KiB, goroutines %d, next GC at %d KiB",
				m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.StackInuse>>10, runtime.NumGoroutine(), m.NextGC>>10)
			runtime.GC()
			runtime.ReadMemStats(&m)
			log.Printf("memstats after GC: live heap %d KiB", m.HeapAlloc>>10)
			if f, err := os.Create(memPath); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
		os.Exit(0)
	}()
}

// listenReusePort listens on addr with SO_REUSEPORT set, so that several
// server processes can share one port and the kernel spreads connections
// over them: the way to hold more connections than one process may open.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr) //sio:root-context
}
