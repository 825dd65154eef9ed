// Package benchsrv is the Go server of the load comparisons: the events
// cmd/siobench drives (the Node reference server,
// internal/nodepeer/scripts/bench_server.mjs, has the same), the example
// ChatService for the typed RPC scenario, and a bare WebSocket echo as the
// ceiling. examples/benchserver serves it; siobench's tests run against it.
package benchsrv

import (
	"context"
	"net/http"
	"regexp"
	"sync"

	"github.com/gorilla/websocket"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// chat answers SendMessage at once, with the length of the text as id.
type chat struct {
	chatv1sio.UnimplementedChatServiceServer
}

// WatchRoom subscribes the caller to the room it names.
func (chat) WatchRoom(_ context.Context, req *chatv1.WatchRoomRequest) (string, error) {
	return req.GetRoom(), nil
}

func (chat) SendMessage(_ context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	return &chatv1.SendMessageResponse{Id: uint64(len(req.GetText()))}, nil
}

// New returns the Socket.IO server with the benchmark events:
//
//	echo(arg) acks arg (binary included)
//	join(room) joins room and acks
//	fanout(room, payload) emits "msg" with payload to room and acks
//	rpc-fanout(room, n, t) on ChatService's namespace publishes to the
//	  WatchRoom subscribers of room and acks
//
// echo is also served on every namespace named /ns-<number> (children of
// one dynamic namespace), to load many namespaces alike. ChatService is on
// its namespace, with the bidirectional BidiEchoEvent beside it.
//
// opts are given to ChatService's registration (the observe flag of
// examples/benchserver passes metrics and tracing).
func New(opts ...rpc.HandlerOption) (*socketio.Server, error) { return NewWith(nil, opts...) }

// NewWith is New with the Socket.IO server's options (connection state
// recovery, say, to measure what resumable streams cost).
func NewWith(sopts *socketio.Options, opts ...rpc.HandlerOption) (*socketio.Server, error) {
	srv := socketio.NewServer(sopts)
	nsp := srv.Of("/")
	// The handlers are the namespace's, not each socket's (Socket.On): the
	// same for every socket, and nothing held per connection, which is what
	// the idle scenario measures.
	handlers := map[string]socketio.EventHandler{
		"echo": func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			if ack == nil {
				return
			}
			if b, ok := args.Bytes(0); ok {
				_ = ack(b)
				return
			}
			_ = ack(args.Raw(0))
		},
		"join": func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			if ack != nil {
				_ = ack()
			}
		},
		// The broadcast is encoded once for all the room's members.
		"fanout": func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			if b, ok := args.Bytes(1); ok {
				_ = nsp.To(room).Emit("msg", b) // binary, as the typed fanout's messages
			} else {
				_ = nsp.To(room).Emit("msg", args.Raw(1))
			}
			if ack != nil {
				_ = ack()
			}
		},
	}
	for event, h := range handlers {
		if _, err := nsp.Handle(event, h); err != nil {
			return nil, err
		}
	}
	// The parent's handler serves every child, so a namespace costs its
	// table entry and adapter, not a handler of its own.
	if _, err := srv.OfRegexp(numberedNamespace).Handle("echo", handlers["echo"]); err != nil {
		return nil, err
	}
	if err := chatv1sio.RegisterChatServiceServer(srv, chat{}, opts...); err != nil {
		return nil, err
	}
	// rpc-fanout(room, n, t) publishes a WatchRoom message to room's
	// subscribers (a typed room stream) and acks: the typed counterpart of
	// fanout. The message carries n as its id and t as its text.
	if _, err := srv.Of(chatv1sio.ChatServiceNamespace).Handle("rpc-fanout", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
		var room, t string
		var n uint64
		_ = args.Decode(0, &room)
		_ = args.Decode(1, &n)
		_ = args.Decode(2, &t)
		_ = chatv1sio.PublishChatServiceWatchRoom(srv, room, &chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Id: n, Text: t}})
		if ack != nil {
			_ = ack()
		}
	}); err != nil {
		return nil, err
	}
	return srv, rpc.Register(srv.Of(chatv1sio.ChatServiceNamespace), rpc.NewBidiStreamHandler(BidiEchoEvent, bidiEcho))
}

// numberedNamespace matches the namespaces /ns-0, /ns-1, ... that
// siobench's namespaces scenario spreads its clients over.
var numberedNamespace = regexp.MustCompile(`^/ns-[0-9]+$`)

// BidiEchoEvent is a bidirectional stream on ChatService's namespace that
// answers each message with the same message: the stream scenario's
// counterpart of the unary calls.
const BidiEchoEvent = "bench.v1.BenchService/Echo"

func bidiEcho(_ context.Context, s *rpc.BidiStream[*chatv1.SendMessageRequest, *chatv1.SendMessageRequest]) error {
	for {
		m, err := s.Receive()
		if err != nil {
			return nil // the caller's last message, or its end
		}
		if err := s.Send(m); err != nil {
			return err
		}
	}
}

// RawEcho is a bare WebSocket echo, tuned as a ceiling: small read
// buffers, pooled write buffers, one goroutine per connection.
func RawEcho() http.Handler {
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
