package socketio

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio"
)

// benchServer serves "echo", which acks its first argument, and returns
// a raw WebSocket connected to the main namespace, so that the client
// costs as little as possible and the server's work per packet shows.
func benchServer(b *testing.B) *websocket.Conn { return benchServerRevision(b, 4) }

// benchServerRevision is benchServer for a client of Engine.IO protocol
// revision 3 or 4. A revision 3 client is on "/" without asking.
func benchServerRevision(b *testing.B, revision int) *websocket.Conn {
	b.Helper()
	srv := NewServer(&Options{Engine: engineio.Options{AllowEIO3: true}})
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(_ *Socket, args Args, ack Ack) {
			if data, ok := args.Bytes(0); ok {
				_ = ack(data)
				return
			}
			_ = ack(args.Raw(0))
		})
	})
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		_ = srv.Close(context.Background())
		hs.Close()
	})
	url := fmt.Sprintf("ws%s/socket.io/?EIO=%d&transport=websocket", strings.TrimPrefix(hs.URL, "http"), revision)
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.Close() })
	if _, _, err := ws.ReadMessage(); err != nil { // open
		b.Fatal(err)
	}
	if revision == 4 {
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := ws.ReadMessage(); err != nil { // CONNECT reply
		b.Fatal(err)
	}
	return ws
}

// readAck reads frames until the ack with id, answering pings.
func readAck(ws *websocket.Conn, id int) ([]byte, error) {
	prefix := fmt.Appendf(nil, "43%d[", id)
	binPrefix := fmt.Appendf(nil, "461-%d[", id)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(msg, prefix) {
			return msg, nil
		}
		if bytes.HasPrefix(msg, binPrefix) {
			_, att, err := ws.ReadMessage()
			return att, err
		}
		if string(msg) == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

// BenchmarkAckRoundTrip is one event and its ack at a time, over a
// WebSocket on loopback: the request/reply path end to end.
func BenchmarkAckRoundTrip(b *testing.B) {
	ws := benchServer(b)
	b.ReportAllocs()
	id := 0
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `42%d["echo","hello"]`, id)); err != nil {
			b.Fatal(err)
		}
		if _, err := readAck(ws, id); err != nil {
			b.Fatal(err)
		}
		id++
	}
}

// BenchmarkAckPipelined keeps 32 events in flight, as a busy client does:
// the server reads many packets per system call and batches its replies.
func BenchmarkAckPipelined(b *testing.B) { benchPipelined(b, benchServer(b)) }

func benchPipelined(b *testing.B, ws *websocket.Conn) {
	const inFlight = 32
	b.ReportAllocs()
	sent, acked := 0, 0
	for b.Loop() {
		for sent-acked < inFlight {
			if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `42%d["echo","hello"]`, sent)); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		if _, err := readAck(ws, acked); err != nil {
			b.Fatal(err)
		}
		acked++
	}
	for ; acked < sent; acked++ {
		if _, err := readAck(ws, acked); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBinaryAck64K echoes a 64 KiB binary attachment.
func BenchmarkBinaryAck64K(b *testing.B) { benchBinaryAck(b, benchServer(b), 64<<10, nil) }

// BenchmarkProtocolRevisions compares a Socket.IO 2 client (Engine.IO
// revision 3) with a current one: pipelined acks, and 1 KiB binary
// echoes, whose frames revision 3 copies to put a type byte first.
func BenchmarkProtocolRevisions(b *testing.B) {
	for _, rev := range []int{4, 3} {
		b.Run(fmt.Sprintf("acks/eio%d", rev), func(b *testing.B) { benchPipelined(b, benchServerRevision(b, rev)) })
	}
	for _, rev := range []int{4, 3} {
		var prefix []byte
		if rev == 3 {
			prefix = []byte{4} // the message type, before a revision 3 binary frame
		}
		b.Run(fmt.Sprintf("binary1K/eio%d", rev), func(b *testing.B) { benchBinaryAck(b, benchServerRevision(b, rev), 1<<10, prefix) })
	}
}

// benchBinaryAck echoes a binary attachment of size bytes, each binary
// frame led by prefix.
func benchBinaryAck(b *testing.B, ws *websocket.Conn, size int, prefix []byte) {
	payload := append(prefix, bytes.Repeat([]byte{7}, size)...)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	id := 0
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `451-%d["echo",{"_placeholder":true,"num":0}]`, id)); err != nil {
			b.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, payload); err != nil {
			b.Fatal(err)
		}
		att, err := readAck(ws, id)
		if err != nil || len(att) != len(payload) {
			b.Fatalf("ack %d: %d bytes, %v", id, len(att), err)
		}
		id++
	}
}
