// Command chat is the demo: a chat whose server implements the generated
// ChatService and whose browser page calls it with the generated
// TypeScript client over socket.io-client.
//
//	go run ./examples/chat            # then open http://127.0.0.1:8080
//
// Add ?transports=polling to the page's address to see it work without
// WebSocket.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"io/fs"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/socketio"
)

//go:embed web/index.html web/dist/app.js
var web embed.FS

// newServer builds the Socket.IO server with the chat service and the page.
func newServer() (*socketio.Server, http.Handler, error) {
	srv := socketio.NewServer(nil)
	if err := chatv1sio.RegisterChatServiceServer(srv, newChatService(srv)); err != nil {
		return nil, nil, err
	}
	static, err := fs.Sub(web, "web")
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.Handle("/", http.FileServerFS(static))
	return srv, mux, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	srv, handler, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Addr: *addr, Handler: handler}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(shutdown)
		_ = hs.Shutdown(shutdown)
	}()
	log.Printf("chat demo on http://%s", *addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
