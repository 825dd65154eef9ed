// Command plain is an untyped Socket.IO server, for those who want only the
// runtime: any socket.io-client 4 app can talk to it. It echoes "echo"
// events (binary included) in the ack, and relays "chat" to a room.
//
//	go run ./examples/plain -addr 127.0.0.1:3000
package main

import (
	"flag"
	"log"

	"github.com/sio-dev/sio/runtime/socketio"
)

// newServer returns the server with its handlers.
func newServer() *socketio.Server {
	srv := socketio.NewServer(nil)
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			if ack == nil {
				return
			}
			values, err := args.Values() // []byte attachments stay []byte
			if err != nil {
				_ = ack(map[string]string{"error": err.Error()})
				return
			}
			_ = ack(values...)
		})
		s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			if err := args.Decode(0, &room); err != nil || room == "" {
				return
			}
			s.Join(room)
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		s.On("chat", func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			var msg struct {
				Room string `json:"room"`
				Text string `json:"text"`
			}
			if args.Decode(0, &msg) == nil {
				_ = s.To(msg.Room).Emit("chat", map[string]string{"from": s.ID(), "text": msg.Text})
			}
		})
	})
	return srv
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to serve on")
	flag.Parse()
	log.Printf("plain Socket.IO server on http://%s", *addr)
	log.Fatal(newServer().ListenAndServe(*addr))
}
