// Command quickstart is the smallest typed server: one method of the
// example ChatService, served over Socket.IO on 127.0.0.1:3000. The other
// methods answer "unimplemented" through the embedded type.
package main

import (
	"context"
	"log"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/socketio"
)

type chat struct {
	chatv1sio.UnimplementedChatServiceServer
}

func (chat) SendMessage(_ context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	log.Printf("%s says %q in %s", req.GetUser(), req.GetText(), req.GetRoom())
	return &chatv1.SendMessageResponse{Id: 1}, nil
}

func main() {
	srv := socketio.NewServer(nil)
	if err := chatv1sio.RegisterChatServiceServer(srv, chat{}); err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.ListenAndServe("127.0.0.1:3000"))
}
