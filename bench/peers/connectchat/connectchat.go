// Package connectchat is ChatService.SendMessage on connect-go, with the
// messages of the repository's example proto (gen/go/example/chat/v1), so
// that connect-go's typed unary calls carry the same bytes as sio's typed
// calls in the benchmark. The handler and client are what
// protoc-gen-connect-go would generate for the one method, written out.
package connectchat

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
)

// SendMessageProcedure is the method's HTTP path: /example.chat.v1.ChatService/SendMessage.
var SendMessageProcedure = "/" + string(chatv1.File_example_chat_v1_chat_proto.Services().ByName("ChatService").FullName()) + "/SendMessage"

// Handler serves SendMessage as internal/benchsrv does: it answers at once,
// with the length of the text as id.
func Handler(opts ...connect.HandlerOption) (pattern string, h http.Handler) {
	return SendMessageProcedure, connect.NewUnaryHandler(SendMessageProcedure, sendMessage, opts...)
}

func sendMessage(_ context.Context, req *connect.Request[chatv1.SendMessageRequest]) (*connect.Response[chatv1.SendMessageResponse], error) {
	return connect.NewResponse(&chatv1.SendMessageResponse{Id: uint64(len(req.Msg.GetText()))}), nil
}

// NewClient returns a SendMessage client of the server at baseURL
// (http://host:port).
func NewClient(hc connect.HTTPClient, baseURL string, opts ...connect.ClientOption) *connect.Client[chatv1.SendMessageRequest, chatv1.SendMessageResponse] {
	return connect.NewClient[chatv1.SendMessageRequest, chatv1.SendMessageResponse](hc, baseURL+SendMessageProcedure, opts...)
}

// H2C is the protocol set of the benchmark: HTTP/2 without TLS (prior
// knowledge), as connect-go is served on loopback.
func H2C() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}
