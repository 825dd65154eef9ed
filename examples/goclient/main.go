// Command goclient calls the chat example from Go with the generated
// client: it joins a room, watches it, sends a message and prints what the
// room's feed delivers until its own message comes back.
//
//	go run ./examples/chat &
//	go run ./examples/goclient -url http://127.0.0.1:8080 -text "hello from Go"
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "chat server")
	room := flag.String("room", "lobby", "room to join")
	user := flag.String("user", "gopher", "name to use")
	text := flag.String("text", "hello from Go", "message to send")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *url, *room, *user, *text); err != nil {
		log.Fatal(err)
	}
}

// run does the client's work, writing what it sees to out.
func run(ctx context.Context, out io.Writer, url, room, user, text string) error {
	socket, err := sioclient.Connect(ctx, url+chatv1sio.ChatServiceNamespace, nil, nil)
	if err != nil {
		return err
	}
	defer socket.Manager().Close()
	chat := chatv1sio.NewChatServiceClient(rpc.NewClientConn(socket))

	feed, err := chat.WatchRoom(ctx, &chatv1.WatchRoomRequest{Room: room})
	if err != nil {
		return err
	}
	defer feed.Close()
	joined, err := chat.Join(ctx, &chatv1.JoinRequest{Room: room, User: user})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "in %s: %v\n", room, joined.GetMembers())
	sent, err := chat.SendMessage(ctx, &chatv1.SendMessageRequest{Room: room, User: user, Text: text})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stored as #%d\n", sent.GetId())
	for update, err := range feed.All() {
		if err != nil {
			return err
		}
		m := update.GetMessage()
		fmt.Fprintf(out, "#%d %s: %s\n", m.GetId(), m.GetUser(), m.GetText())
		if m.GetId() == sent.GetId() {
			return nil
		}
	}
	return fmt.Errorf("the feed ended before message #%d came back", sent.GetId())
}
