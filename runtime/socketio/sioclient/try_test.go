package sioclient

import (
	"errors"
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
		// 800 kB is 1.07 MB in base64: too large for polling only.
		_, err := s.TryEmitWithAck(ctx5s(t), "echo", make([]byte, 800_000))
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
