package sioparser_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// A server and a Go client that both speak the MessagePack format, as
// clients made with socket.io-msgpack-parser do.
func ExampleMessagePack() {
	srv := socketio.NewServer(&socketio.Options{Parser: sioparser.MessagePack{}})
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("upload", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var name string
			_ = args.Decode(0, &name)
			data, _ := args.Bytes(1) // binary travels as msgpack bin
			_ = ack(fmt.Sprintf("%s: %d bytes", name, len(data)))
		})
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sock, err := sioclient.Connect(ctx, hs.URL, &sioclient.Options{Parser: sioparser.MessagePack{}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sock.Manager().Close()
	reply, err := sock.EmitWithAck(ctx, "upload", "photo.jpg", []byte{0xff, 0xd8, 0xff})
	if err != nil {
		fmt.Println(err)
		return
	}
	var answer string
	_ = reply.Decode(0, &answer)
	fmt.Println(answer)
	// Output: photo.jpg: 3 bytes
}
