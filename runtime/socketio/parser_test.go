package socketio

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// TestHoldQueueReadsOffsetsInEachFormat: after a recovery, a broadcast
// that arrives live although it was sent as missed is dropped; the hold
// queue finds its offset in the messages whatever the format.
func TestHoldQueueReadsOffsetsInEachFormat(t *testing.T) {
	for _, parser := range []sioparser.Parser{nil, sioparser.MessagePack{}} {
		p, err := siopacket.NewEvent("/", "news", []any{1, []byte{2}, []byte{3}})
		if err != nil {
			t.Fatal(err)
		}
		siopacket.AppendStringArg(&p, "offset-7")
		var msgs []engineio.Message
		if parser == nil {
			msgs = encode(&p, false)
		} else if msgs, err = parser.Encode(&p); err != nil {
			t.Fatal(err)
		}
		if got := frameOffset(msgs, parser); got != "offset-7" {
			t.Errorf("%T: offset %q", parser, got)
		}
		var q holdQueue
		q.resent, q.resentUntil = map[string]bool{"offset-7": true}, time.Now().Add(time.Minute)
		q.active.Store(true)
		if !q.intercept(msgs, parser) {
			t.Errorf("%T: a broadcast sent as missed was not dropped", parser)
		}
		if q.intercept(msgs, parser) {
			t.Errorf("%T: dropped twice", parser)
		}
	}
}

func TestCustomParserDefaultIsNil(t *testing.T) {
	for _, p := range []sioparser.Parser{nil, sioparser.Default{}, &sioparser.Default{}} {
		if customParser(p) != nil {
			t.Errorf("%T is not the written-out default", p)
		}
	}
	if customParser(sioparser.MessagePack{}) == nil {
		t.Error("MessagePack taken for the default")
	}
}

// TestMessagePackBroadcastIsEncodedOnce is TestBroadcastIsEncodedOnce
// over the MessagePack parser, with binary: one encoding per broadcast,
// the same bytes for every recipient.
func TestMessagePackBroadcastIsEncodedOnce(t *testing.T) {
	const recipients, rounds = 50, 4
	payload := bytes.Repeat([]byte{7}, 64<<10)
	parser := sioparser.MessagePack{}
	srv := NewServer(&Options{Parser: parser})
	joined := make(chan struct{}, recipients)
	srv.OnConnection(func(s *Socket) {
		s.Join("room")
		joined <- struct{}{}
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close(context.Background())
		hs.Close()
	})
	connect, err := parser.Encode(&siopacket.Packet{Type: siopacket.Connect, Namespace: "/"})
	if err != nil {
		t.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conns := make([]*websocket.Conn, recipients)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		conns[i] = ws
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil { // open
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, connect[0].Data); err != nil {
			t.Fatal(err)
		}
		if mt, _, err := ws.ReadMessage(); err != nil || mt != websocket.BinaryMessage { // CONNECT reply
			t.Fatalf("CONNECT reply: type %d, %v", mt, err)
		}
	}
	for range recipients {
		wait(t, joined)
	}
	p, _ := siopacket.NewEvent("/", "msg", []any{payload})
	want, _ := parser.Encode(&p)
	frame := len(want[0].Data)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range rounds {
		if err := srv.Of("/").To("room").Emit("msg", payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range conns {
		for range rounds {
			mt, r, err := ws.NextReader()
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || mt != websocket.BinaryMessage || int(n) != frame {
				t.Fatalf("got a %d-byte frame of type %d (%v), want %d bytes of binary", n, mt, err, frame)
			}
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	perCopy := uint64(rounds * recipients * len(payload))
	t.Logf("allocated %d KiB while broadcasting; one copy per recipient would be %d KiB", allocated>>10, perCopy>>10)
	if allocated > perCopy/4 {
		t.Errorf("allocated %d KiB for %d broadcasts to %d sockets: the payload is copied per recipient", allocated>>10, rounds, recipients)
	}
}
