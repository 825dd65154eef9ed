// Package chatapp is the chat example's server side: the ChatService
// implementation and the page, ready to mount. examples/chat runs one
// node; examples/cluster runs several on Redis.
//
// Each node keeps the recent messages of the rooms in its own memory, and
// the members who joined through it.
package chatapp

import (
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

//go:embed web/index.html web/dist/app.js
var web embed.FS

// config is what Options set; the zero Option list gives the defaults.
type config struct {
	historySize    int
	historyRooms   int
	confirmTimeout time.Duration
	rpc            []rpc.HandlerOption
}

// Option configures the chat service built by New.
type Option func(*config)

// WithHistory keeps the last n messages of each room for people who join
// later, in at most rooms rooms (the quietest is forgotten first).
// Default: 50 messages in 1000 rooms. n = 0 keeps none.
func WithHistory(n, rooms int) Option {
	return func(c *config) { c.historySize, c.historyRooms = max(n, 0), max(rooms, 1) }
}

// WithConfirmTimeout sets how long the server waits for a sender to
// confirm a message that mentions everyone before it drops the message.
// Default: 20 seconds.
func WithConfirmTimeout(d time.Duration) Option {
	return func(c *config) { c.confirmTimeout = d }
}

// WithHandlerOptions passes options to the chat service's registration:
// interceptors, tracing (rpcotel.ServerOptions), limits.
func WithHandlerOptions(opts ...rpc.HandlerOption) Option {
	return func(c *config) { c.rpc = append(c.rpc, opts...) }
}

// New builds a Socket.IO server with opts, the chat service registered on
// it, and a handler serving both the Socket.IO endpoint and the page.
func New(opts *socketio.Options, options ...Option) (*socketio.Server, http.Handler, error) {
	cfg := config{historySize: 50, historyRooms: 1000, confirmTimeout: 20 * time.Second}
	for _, o := range options {
		o(&cfg)
	}
	srv := socketio.NewServer(opts)
	if err := chatv1sio.RegisterChatServiceServer(srv, newChatService(srv, cfg), cfg.rpc...); err != nil {
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
