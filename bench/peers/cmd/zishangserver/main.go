// Command zishangserver is the benchmark server of scripts/bench.sh on
// github.com/zishang520/socket.io, the other complete Socket.IO server in
// Go: the events of internal/benchsrv (and of the Node reference server,
// internal/nodepeer/scripts/bench_server.mjs), so that cmd/siobench drives
// it unchanged.
//
//	echo(arg) acks arg (binary included)
//	join(room) joins room and acks
//	fanout(room, payload) emits "msg" with payload to room and acks
//
//	go run ./cmd/zishangserver -addr 127.0.0.1:4104
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4104", "address to serve on (loopback)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("zishangserver: %s is not a loopback address", *addr)
	}
	log.Fatal(http.ListenAndServe(*addr, handler()))
}

// handler returns the server's HTTP handler, which answers under /socket.io/.
func handler() http.Handler {
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetMaxHttpBufferSize(1e8) // as the Node reference server
	io := socket.NewServer(nil, opts)
	_ = io.On("connection", func(clients ...any) {
		s := clients[0].(*socket.Socket)
		_ = s.On("echo", func(args ...any) {
			if ack, arg, ok := withAck(args); ok && len(arg) > 0 {
				ack([]any{arg[0]}, nil)
			}
		})
		_ = s.On("join", func(args ...any) {
			ack, arg, ok := withAck(args)
			if room, isString := first(arg).(string); isString {
				s.Join(socket.Room(room))
			}
			if ok {
				ack(nil, nil)
			}
		})
		_ = s.On("fanout", func(args ...any) {
			ack, arg, ok := withAck(args)
			if room, isString := first(arg).(string); isString && len(arg) > 1 {
				_ = io.To(socket.Room(room)).Emit("msg", arg[1])
			}
			if ok {
				ack(nil, nil)
			}
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(opts))
	return mux
}

// withAck splits an event's arguments into its ack callback, last when the
// client asked for one, and the rest.
func withAck(args []any) (socket.Ack, []any, bool) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			return ack, args[:n-1], true
		}
	}
	return nil, args, false
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
