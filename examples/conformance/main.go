// Command conformance serves the endpoints that the official Engine.IO
// protocol test suite expects: a bare Engine.IO echo server at /engine.io/
// with pingInterval 300ms, pingTimeout 200ms and maxPayload 1000000.
//
//	go run ./examples/conformance -addr 127.0.0.1:3000
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
	mux := http.NewServeMux()
	mux.Handle(eio.Path(), eio)
	srv := &http.Server{Addr: *addr, Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eio.Close(shutdown)
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("conformance server on http://%s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
