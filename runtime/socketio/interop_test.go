package socketio

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// newInteropServer is the server side of sio_client.mjs's scenarios.
// Clients connect through a TCP proxy, so that scenarios can freeze or cut
// the network under them.
func newInteropServer(t *testing.T, recovery *RecoveryOptions) (*Server, string) {
	t.Helper()
	return newInteropServerWith(t, recovery, nil)
}

// newInteropServerWith is newInteropServer with a parser.
func newInteropServerWith(t *testing.T, recovery *RecoveryOptions, parser sioparser.Parser) (*Server, string) {
	t.Helper()
	var proxy atomic.Pointer[siotest.Proxy] // set once the server listens
	srv := NewServer(&Options{Engine: engineio.Options{
		PingInterval:      200 * time.Millisecond,
		PingTimeout:       400 * time.Millisecond,
		MaxHTTPBufferSize: 100000, // binary sends 70000 bytes; oversize, 200000 characters
	}, ConnectionStateRecovery: recovery, Parser: parser})
	srv.Use(func(s *Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = jsonUnmarshal(s.Handshake().Auth, &auth)
		if auth.Token == "bad" {
			return &ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
		}
		s.SetData(auth.Token)
		return nil
	})
	nsp := srv.Of("/")
	srv.OnConnection(func(s *Socket) {
		s.On("whoami", func(s *Socket, _ Args, ack Ack) { _ = ack(s.Data()) })
		s.On("echo", func(s *Socket, args Args, ack Ack) {
			values, err := args.Values()
			if err != nil {
				t.Errorf("echo args: %v", err)
				return
			}
			if ack != nil {
				_ = ack(values...)
				return
			}
			_ = s.Emit("echo", values...)
		})
		s.On("ask-client", func(s *Socket, _ Args, ack Ack) {
			go func() { // never block the read goroutine on a round trip
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				answer, err := s.EmitWithAck(ctx, "question", 1, "two", []byte{3})
				if err != nil {
					t.Errorf("EmitWithAck: %v", err)
					return
				}
				values, _ := answer.Values()
				_ = ack(values...)
			}()
		})
		s.On("join", func(s *Socket, args Args, ack Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			_ = ack()
		})
		s.On("to-room", func(s *Socket, args Args, ack Ack) {
			var room, msg string
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &msg)
			_ = s.To(room).Emit("room-msg", msg)
			_ = ack()
		})
		s.On("except", func(s *Socket, args Args, ack Ack) {
			var room, msg string
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &msg)
			_ = nsp.Except(room).Emit("room-msg", msg)
			_ = ack()
		})
		s.On("broadcast-ack", func(s *Socket, _ Args, ack Ack) {
			go func() {
				responses, err := nsp.To().Timeout(300*time.Millisecond).EmitWithAck(context.Background(), "ping-all")
				var bae *BroadcastAckError
				timedOut := errors.As(err, &bae)
				expected := len(responses)
				if timedOut {
					responses, expected = bae.Responses, bae.Expected
				}
				names := []string{}
				for _, r := range responses {
					var n string
					_ = r.Decode(0, &n)
					names = append(names, n)
				}
				_ = ack(map[string]any{"timedOut": timedOut, "expected": expected, "responses": names})
			}()
		})
		s.On("volatile", func(s *Socket, _ Args, _ Ack) { _ = s.EmitVolatile("v", "volatile data") })
		s.On("disconnect-me", func(s *Socket, _ Args, _ Ack) { s.Disconnect(false) })
		s.On("drop-me", func(s *Socket, _ Args, _ Ack) { s.Conn().Close() })
		s.On("freeze-network", func(*Socket, Args, Ack) { proxy.Load().Freeze() })
		s.On("cut-network", func(*Socket, Args, Ack) { go proxy.Load().Cut() })
		s.On("news-now", func(s *Socket, args Args, ack Ack) {
			var room string
			var n int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &n)
			for i := range n {
				_ = nsp.To(room).Emit("news", i)
			}
			_ = ack()
		})
		s.On("drop-and-broadcast", func(s *Socket, args Args, _ Ack) {
			var room string
			var from, n int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &from)
			_ = args.Decode(2, &n)
			s.Conn().Close()
			go func() {
				time.Sleep(20 * time.Millisecond) // the client is away now
				for i := from; i < from+n; i++ {
					_ = nsp.To(room).Emit("news", i)
				}
			}()
		})
		s.On("bad-packet", func(s *Socket, _ Args, _ Ack) {
			_ = s.Conn().Send(engineio.Message{Data: []byte("9garbage")})
		})
	})
	srv.Of("/admin").OnConnection(func(s *Socket) { _ = s.Emit("welcome", s.Namespace().Name()) })

	hs := siotest.Serve(t, srv, srv)
	p := siotest.StartProxy(t, hs.Listener.Addr().String())
	proxy.Store(p)
	return srv, "http://" + p.Addr()
}

func TestOfficialClient(t *testing.T) {
	nodepeer.Require(t)
	scenarios := []string{"connect", "authRejected", "authAccepted", "multiplex", "acks", "binary", "rooms",
		"broadcastAck", "volatile", "serverDisconnect", "clientDisconnect", "transportCloseReconnects", "parseError", "oversize", "pingTimeout", "networkCut", "recovery"}
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		for _, sc := range scenarios {
			t.Run(mode+"/"+sc, func(t *testing.T) {
				t.Parallel()
				var recovery *RecoveryOptions
				if sc == "recovery" {
					recovery = &RecoveryOptions{}
				}
				_, url := newInteropServer(t, recovery)
				nodepeer.Run(t, 30*time.Second, "sio_client.mjs", url, mode, sc)
			})
		}
	}
}

// TestOfficialClientMessagePack runs the official client's scenarios with
// its parser option set to socket.io-msgpack-parser, against a server
// using sioparser.MessagePack.
func TestOfficialClientMessagePack(t *testing.T) {
	nodepeer.Require(t)
	scenarios := []string{"connect", "authRejected", "authAccepted", "multiplex", "acks", "binary", "rooms",
		"broadcastAck", "volatile", "serverDisconnect", "parseError", "oversize", "recovery"}
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		for _, sc := range scenarios {
			t.Run(mode+"/"+sc, func(t *testing.T) {
				t.Parallel()
				var recovery *RecoveryOptions
				if sc == "recovery" {
					recovery = &RecoveryOptions{}
				}
				_, url := newInteropServerWith(t, recovery, sioparser.MessagePack{})
				nodepeer.Run(t, 30*time.Second, "sio_client.mjs", url, mode, sc, "msgpack")
			})
		}
	}
}
