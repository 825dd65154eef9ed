package rpc_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// benchChat answers SendMessage at once, as the benchmark server does.
type benchChat struct {
	chatv1sio.UnimplementedChatServiceServer
}

func (benchChat) SendMessage(_ context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	return &chatv1.SendMessageResponse{Id: uint64(len(req.GetText()))}, nil
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// alternate runs plain and typed rounds one after the other, b.N times
// each (plain first in odd iterations, typed first in even ones), and
// reports the process's CPU time per unit of each and their ratio.
func alternate(b *testing.B, units int, plain, typed func() error) {
	var cpu [2]time.Duration
	sides := [2]func() error{plain, typed}
	i := 0
	for b.Loop() {
		for k := range 2 {
			side := (k + i) % 2
			before := processCPU()
			if err := sides[side](); err != nil {
				b.Fatal(err)
			}
			cpu[side] += processCPU() - before
		}
		i++
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(i*units) }
	b.ReportMetric(per(cpu[0]), "plain-cpu-ns/unit")
	b.ReportMetric(per(cpu[1]), "typed-cpu-ns/unit")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "typed/plain")
}

// BenchmarkTypedVsPlainCall compares a unary call made by the generated
// client (ChatService.SendMessage, with the deadline and id it sends) with
// a plain Socket.IO event and ack carrying the same bytes each way, in the
// same load shape: 4 connections with 8 calls in flight on each, 256
// calls a round. The process is both client and server, so the figures
// are their sum, per call; the ratio is typed over plain, measured in the
// same run with rounds alternating (cmd/siobench's rpcplain and rpcmeta
// scenarios measure the server alone, in another process).
func BenchmarkTypedVsPlainCall(b *testing.B) {
	srv := socketio.NewServer(nil)
	if err := chatv1sio.RegisterChatServiceServer(srv, benchChat{}); err != nil {
		b.Fatal(err)
	}
	req := &chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"}
	reqBytes, _ := proto.Marshal(req)
	resBytes, _ := proto.Marshal(&chatv1.SendMessageResponse{Id: 5})
	nsp := srv.Of(chatv1sio.ChatServiceNamespace)
	if _, err := nsp.Handle("plain", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
		if data, ok := args.Bytes(0); ok && bytes.Equal(data, reqBytes) {
			_ = ack(resBytes)
		}
	}); err != nil {
		b.Fatal(err)
	}
	url := siotest.Serve(b, srv, srv).URL + chatv1sio.ChatServiceNamespace
	const conns, inFlight, perWorker = 4, 8, 8
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type conn struct {
		client *chatv1sio.ChatServiceClient
		emit   func() error
	}
	var cs []conn
	for range conns {
		s := dialSocket(b, url, nil)
		cs = append(cs, conn{
			client: chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)),
			emit: func() error {
				args, err := s.EmitWithAck(ctx, "plain", reqBytes)
				if err != nil {
					return err
				}
				if got, _ := args.Bytes(0); !bytes.Equal(got, resBytes) {
					return fmt.Errorf("plain ack %q", got)
				}
				return nil
			},
		})
	}
	round := func(call func(conn) error) func() error {
		return func() error {
			var wg sync.WaitGroup
			errs := make(chan error, conns*inFlight)
			for _, c := range cs {
				for range inFlight {
					wg.Go(func() {
						for range perWorker {
							if err := call(c); err != nil {
								errs <- err
								return
							}
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			return <-errs
		}
	}
	plain := round(func(c conn) error { return c.emit() })
	typed := round(func(c conn) error {
		res, err := c.client.SendMessage(ctx, req)
		if err == nil && res.GetId() != 5 {
			err = fmt.Errorf("typed reply %v", res)
		}
		return err
	})
	alternate(b, conns*inFlight*perWorker, plain, typed)
}

// BenchmarkPublishVsBroadcast compares rpc.Publish of a message to a
// room stream's subscribers with a plain broadcast of the same bytes to
// the same room (the event "msg" with the message's bytes as a binary
// attachment), per delivered message: 16 subscribers, on raw WebSocket
// connections that only read, and rounds of 64 messages, alternating.
func BenchmarkPublishVsBroadcast(b *testing.B) {
	srv := socketio.NewServer(nil)
	if err := chatv1sio.RegisterChatServiceServer(srv, benchChat{}); err != nil {
		b.Fatal(err)
	}
	const room, receivers, perRound = "bench", 16, 64
	key := rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, room)
	nsp := srv.Of(chatv1sio.ChatServiceNamespace)
	var joined sync.WaitGroup
	joined.Add(receivers)
	nsp.OnConnection(func(s *socketio.Socket) {
		// As a WatchRoom subscription joins it; both kinds of message go
		// to this room.
		s.Join(key)
		joined.Done()
	})
	hs := siotest.Serve(b, srv, srv)
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	delivered := make(chan int, receivers)
	var readers sync.WaitGroup
	for range receivers {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ws.Close() })
		if _, _, err := ws.ReadMessage(); err != nil { // open
			b.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40"+chatv1sio.ChatServiceNamespace+",")); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil { // CONNECT reply
			b.Fatal(err)
		}
		readers.Go(func() {
			// Every message is a text frame and its attachment.
			n := 0
			for {
				mt, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if mt == websocket.TextMessage && string(msg) == "2" {
					_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
					continue
				}
				if mt == websocket.BinaryMessage {
					if n++; n == perRound {
						delivered <- n
						n = 0
					}
				}
			}
		})
	}
	joined.Wait()
	b.Cleanup(func() {
		_ = srv.Close(context.Background())
		readers.Wait()
	})
	msg := &chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Id: 7, Room: room, User: "bench", Text: "hello"}}
	msgBytes, _ := proto.Marshal(msg)
	wait := func() error {
		for range receivers {
			select {
			case <-delivered:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("a round's messages were not all delivered")
			}
		}
		return nil
	}
	plain := func() error {
		for range perRound {
			if err := nsp.To(key).Emit("msg", msgBytes); err != nil {
				return err
			}
		}
		return wait()
	}
	typed := func() error {
		for range perRound {
			if err := chatv1sio.PublishChatServiceWatchRoom(srv, room, msg); err != nil {
				return err
			}
		}
		return wait()
	}
	alternate(b, receivers*perRound, plain, typed)
}
