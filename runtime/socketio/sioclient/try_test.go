package sioclient

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestTryEmitsNeverBuffer: while disconnected a Try emit fails with
// ErrNotConnected and is not delivered after the reconnection; an ack
// awaited when the connection drops fails with ErrDisconnected.
func TestTryEmitsNeverBuffer(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		reconnected := make(chan struct{}, 4)
		s.OnConnect(func(*Socket) { reconnected <- struct{}{} })
		echoed := make(chan string, 4)
		s.On("echo", func(_ *Socket, args Args, _ Ack) { echoed <- args.String() })

		// The server drops the connection without answering.
		if _, err := s.TryEmitWithAck(ctx5s(t), "drop-me"); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("an ack awaited across the drop: %v, want ErrDisconnected", err)
		}
		if err := s.TryEmit("echo", "never"); !errors.Is(err, ErrNotConnected) {
			t.Errorf("TryEmit while disconnected: %v", err)
		}
		if _, err := s.TryEmitWithAck(ctx5s(t), "echo", "never"); !errors.Is(err, ErrNotConnected) {
			t.Errorf("TryEmitWithAck while disconnected: %v", err)
		}
		select {
		case <-reconnected:
		case <-time.After(5 * time.Second):
			t.Fatal("did not reconnect")
		}
		if err := s.TryEmit("echo", "now"); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-echoed:
			if e != `["now"]` {
				t.Errorf("the server got %s: a Try emit was buffered", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the emit after the reconnection never arrived")
		}
	})
}

// TestTryEmitOverTheServersLimit is refused before it is sent, so that
// the server does not close the connection; over polling binary data
// counts in base64.
func TestTryEmitOverTheServersLimit(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		limit := s.Manager().Engine().MaxPayload()
		if limit != 1e6 {
			t.Fatalf("maxPayload %d, want the reference default 1e6", limit)
		}
		id := s.ID()
		if _, err := s.TryEmitWithAck(ctx5s(t), "echo", make([]byte, limit+1)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("binary data over the limit: %v", err)
		}
		if err := s.TryEmit("echo", string(make([]byte, limit))); !errors.Is(err, ErrTooLarge) {
			t.Errorf("text over the limit: %v", err)
		}
		// 800 kB is 1.07 MB in base64: too large for polling only. Its
		// echo is given longer than the small calls: on a loaded machine
		// 1.6 MB through a Node server has taken more than 5 s.
		long, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.TryEmitWithAck(long, "echo", make([]byte, 800_000))
		if transport == "polling" && !errors.Is(err, ErrTooLarge) {
			t.Errorf("800 kB over polling: %v", err)
		}
		if transport == "websocket" && err != nil {
			t.Errorf("800 kB over WebSocket: %v", err)
		}
		if _, err := s.TryEmitWithAck(ctx5s(t), "echo", "small"); err != nil || s.ID() != id {
			t.Errorf("the connection did not stay up: %v", err)
		}
	})
}

// TestConnectionStateRecovery: after a lost connection the socket resumes
// its session on a server with connection state recovery (the reference
// server and ours): the same id, its rooms, and the events it missed.
func TestConnectionStateRecovery(t *testing.T) {
	eachOf(t, recoveringPeers, func(t *testing.T, p *peer, opts Options, transport string) {
		opts.ReconnectionDelay = 300 * time.Millisecond
		opts.ReconnectionDelayMax = 300 * time.Millisecond
		s := dial(t, p, "/", opts, &SocketOptions{Auth: map[string]string{"token": "kept"}}, transport)
		got := make(chan string, 16)
		s.On("room-msg", func(_ *Socket, args Args, _ Ack) {
			var i int
			_ = args.Decode(0, &i)
			got <- strconv.Itoa(i)
		})
		reconnected := make(chan struct{}, 1)
		s.OnConnect(func(*Socket) { reconnected <- struct{}{} })
		if _, err := s.EmitWithAck(ctx5s(t), "join", "r"); err != nil {
			t.Fatal(err)
		}
		// One broadcast while connected, to have an offset.
		if err := s.Emit("broadcast-later", "r", 1, 0); err != nil {
			t.Fatal(err)
		}
		if v := recvString(t, got); v != "0" {
			t.Fatalf("first broadcast: %s", v)
		}
		id := s.ID()
		if s.Recovered() {
			t.Error("a first connection reported as recovered")
		}
		// Three broadcasts 100 ms after the drop, while the client waits
		// 300 ms to reconnect.
		if err := s.Emit("broadcast-later", "r", 3, 100); err != nil {
			t.Fatal(err)
		}
		_ = s.Emit("drop-me")
		select {
		case <-reconnected:
		case <-time.After(5 * time.Second):
			t.Fatal("did not reconnect")
		}
		if !s.Recovered() || s.ID() != id {
			t.Fatalf("recovered %v with id %s (was %s); want the same session", s.Recovered(), s.ID(), id)
		}
		for i := range 3 {
			if v := recvString(t, got); v != strconv.Itoa(i) {
				t.Fatalf("missed broadcast %d: got %s", i, v)
			}
		}
		if who, err := s.EmitWithAck(ctx5s(t), "whoami"); err != nil || who.String() != `["kept"]` {
			t.Errorf("the auth payload after recovery: %v, %v", who, err)
		}
	})
}

func recvString(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing within 5s")
		return ""
	}
}
