package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

const watchEvent = "test.v1.RoomService/Watch"

// TestQuietRoomSubscriptionResumes: a subscriber whose room has had no
// broadcast yet loses its connection; what is published meanwhile reaches
// it once it reconnects, from the recovered session, without subscribing
// again. It holds an offset to resume from only because the server gives
// it one when it subscribes.
func TestQuietRoomSubscriptionResumes(t *testing.T) {
	srv := socketio.NewServer(&socketio.Options{ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 10 * time.Second}})
	watch := rpc.NewServerStreamHandler(watchEvent, func(_ context.Context, r *req) (string, error) { return r.GetRoom(), nil })
	if err := rpc.Register(srv.Of("/"), watch); err != nil {
		t.Fatal(err)
	}
	url := siotest.Serve(t, srv, srv).URL
	// Back after a second: the message below is published while it is away.
	s, proxy := reconnecting(t, url, time.Second)
	ctx := ctxTimeout(t, 20*time.Second)
	stream, err := rpc.Subscribe[*res](ctx, rpc.NewClientConn(s), watchEvent, &req{Room: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for !s.Recoverable() {
		if ctx.Err() != nil {
			t.Fatal("the subscriber holds no recovery offset: the room has had no broadcast, and the server gave it none")
		}
		time.Sleep(10 * time.Millisecond)
	}

	proxy.Cut()
	// Published while the subscriber is away, once the server has seen it
	// go (before, the socket is still in the room and would get it live).
	for len(srv.Of("/").Sockets()) > 0 && !s.Connected() {
		if ctx.Err() != nil {
			t.Fatal("the server never saw the connection end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rpc.Publish(srv.Of("/"), watchEvent, "quiet", &res{Id: 7}); err != nil {
		t.Fatal(err)
	}
	got, err := stream.Receive(ctx)
	if err != nil {
		t.Fatalf("the message published while away: %v", err)
	}
	if got.GetId() != 7 {
		t.Fatalf("got message %d, want 7", got.GetId())
	}
	if !s.Recovered() {
		t.Fatal("the session was not recovered")
	}
}
