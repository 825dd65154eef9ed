// Package chatapp is the chat example's server side: the ChatService
// implementation and the page, ready to mount. examples/chat runs one
// node; examples/cluster runs several on Redis.
package chatapp

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/socketio"
)

//go:embed web/index.html web/dist/app.js
var web embed.FS

// New builds a Socket.IO server with opts, the chat service registered on
// it, and a handler serving both the Socket.IO endpoint and the page.
func New(opts *socketio.Options) (*socketio.Server, http.Handler, error) {
	srv := socketio.NewServer(opts)
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
