// Command conformance serves the endpoints that the official protocol test
// suites expect, with pingInterval 300ms, pingTimeout 200ms and maxPayload
// 1000000:
//
//   - /engine.io/: a bare Engine.IO echo server (engine.io-protocol suite);
//
//   - /socket.io/: a Socket.IO server with namespaces "/" and "/custom",
//     connectTimeout 1s and CORS for any origin (socket.io-protocol suite).
//
//     go run ./examples/conformance -addr 127.0.0.1:3000
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
)

// echo sends every message back to the session it came from.
type echo struct{ c *engineio.Conn }

func (e echo) OnMessage(data []byte, binary bool) {
	// data is only valid during the call; Send keeps the slice.
	_ = e.c.Send(engineio.Message{Data: append([]byte(nil), data...), Binary: binary})
}

func (echo) OnClose(engineio.CloseReason, error) {}

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	eio := engineio.NewServer(engineio.HandlerFunc(func(c *engineio.Conn) engineio.Receiver {
		return echo{c}
	}), &engineio.Options{
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		MaxHTTPBufferSize: 1e6,
	})
	sio := newSocketIOServer()
	mux := http.NewServeMux()
	mux.Handle(eio.Path(), eio)
	mux.Handle(sio.Path(), sio)
	srv := &http.Server{Addr: *addr, Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eio.Close(shutdown)
		_ = sio.Close(shutdown)
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("conformance server on http://%s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newSocketIOServer is the reference configuration of the Socket.IO suite:
// every socket is sent its auth payload; "message" is echoed back as
// "message-back" and "message-with-ack" is answered in the ack.
func newSocketIOServer() *socketio.Server {
	srv := socketio.NewServer(&socketio.Options{
		Engine: engineio.Options{
			PingInterval:      300 * time.Millisecond,
			PingTimeout:       200 * time.Millisecond,
			MaxHTTPBufferSize: 1e6,
			CORS:              &engineio.CORSOptions{Origins: []string{"*"}},
		},
		ConnectTimeout: time.Second,
	})
	srv.OnConnection(func(s *socketio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			values, err := args.Values()
			if err == nil {
				_ = s.Emit("message-back", values...)
			}
		})
		s.On("message-with-ack", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			values, err := args.Values()
			if err == nil && ack != nil {
				_ = ack(values...)
			}
		})
	})
	srv.Of("/custom").OnConnection(func(s *socketio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
	})
	return srv
}
