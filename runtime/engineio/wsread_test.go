package engineio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// wsFrame is one frame a test client sends: its first header byte, its
// payload, and whether it is masked (a client's frames must be).
type wsFrame struct {
	b0      byte
	payload []byte
	masked  bool
	// length, when not 0, is written as the payload length instead of
	// len(payload).
	length uint64
}

// bytes encodes the frame, masked with a fixed key.
func (f wsFrame) bytes() []byte {
	n := f.length
	if n == 0 {
		n = uint64(len(f.payload))
	}
	var mask byte
	if f.masked {
		mask = 0x80
	}
	b := []byte{f.b0}
	switch {
	case n <= 125:
		b = append(b, mask|byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, mask|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, mask|127), n)
	}
	if !f.masked {
		return append(b, f.payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, f.payload...)
	maskBytes(b[start:], key)
	return b
}

// masked is a masked frame with FIN and opcode in b0.
func masked(b0 byte, payload string) wsFrame {
	return wsFrame{b0: b0, payload: []byte(payload), masked: true}
}

// closeFrame is a masked close frame with a status code and text.
func closeFrame(code uint16, text string) wsFrame {
	return wsFrame{b0: 0x88, payload: append(binary.BigEndian.AppendUint16(nil, code), text...), masked: true}
}

// rawWebSocket opens a WebSocket session on a bare TCP connection to the
// server at addr, offering permessage-deflate if deflate, and reads the
// handshake response and the open packet's frame. The caller closes it.
func rawWebSocket(t testing.TB, addr string, deflate bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ext := ""
	if deflate {
		ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	}
	_, _ = io.WriteString(c, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: "+addr+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+ext+"\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	readServerFrame(t, r)
	return c, r
}

// readServerFrame reads one unmasked frame and returns its first header
// byte and payload.
func readServerFrame(t testing.TB, r *bufio.Reader) (byte, []byte) {
	t.Helper()
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		t.Fatal(err)
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		_, _ = io.ReadFull(r, hdr[:2])
		n = uint64(binary.BigEndian.Uint16(hdr[:2]))
	case 127:
		_, _ = io.ReadFull(r, hdr[:8])
		n = binary.BigEndian.Uint64(hdr[:8])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatal(err)
	}
	return hdr[0], p
}

// frameExchange is what a server did with a sequence of client frames: the
// bytes it sent back until it hung up, and what its session saw.
type frameExchange struct {
	reply  []byte
	events []event
}

// exchange sends frames on a fresh session of ts and collects the answer.
// The last frame is followed by a close frame, so that every sequence ends.
func exchange(t *testing.T, ts *testServer, deflate bool, frames []wsFrame) frameExchange {
	t.Helper()
	c, r := rawWebSocket(t, ts.addr(), deflate)
	defer c.Close()
	rec := ts.session(t)
	var out []byte
	for _, f := range append(frames, closeFrame(1000, "")) {
		out = append(out, f.bytes()...)
	}
	_, _ = c.Write(out) // the server may hang up before it has read everything
	reply, _ := io.ReadAll(r)
	var got frameExchange
	got.reply = reply
	for {
		e := rec.next(t)
		e.err = nil // the error texts are not the wire's
		got.events = append(got.events, e)
		if e.closed {
			return got
		}
	}
}

// TestOwnFrameReaderAnswersAsGorilla sends well-formed and broken frame
// sequences to a server whose transport reads frames itself and to one
// where gorilla reads them (compression negotiated), and requires the same
// bytes back and the same session events from both.
func TestOwnFrameReaderAnswersAsGorilla(t *testing.T) {
	big := strings.Repeat("x", 150)
	cases := []struct {
		name   string
		frames []wsFrame
	}{
		{"a message", []wsFrame{masked(0x81, "4hello")}},
		{"a ping answered with its payload", []wsFrame{masked(0x89, "are you there"), masked(0x81, "4a")}},
		{"a pong ignored", []wsFrame{masked(0x8A, "x"), masked(0x81, "4a")}},
		{"fragments with a ping between", []wsFrame{masked(0x01, "4he"), masked(0x89, "p"), masked(0x00, "ll"), masked(0x80, "o")}},
		{"binary fragments", []wsFrame{masked(0x02, "\x01\x02"), masked(0x80, "\x03")}},
		{"empty frames", []wsFrame{masked(0x01, ""), masked(0x80, "4"), masked(0x82, "")}},
		{"16-bit length", []wsFrame{masked(0x81, "4"+strings.Repeat("y", 300))}},
		{"64-bit length", []wsFrame{masked(0x82, strings.Repeat("z", 70000))}},
		{"unmasked", []wsFrame{{b0: 0x81, payload: []byte("4x")}}},
		{"RSV2 and RSV3", []wsFrame{masked(0xB1, "4x")}},
		{"opcode 3", []wsFrame{masked(0x83, "x")}},
		{"opcode 11", []wsFrame{masked(0x8B, "x")}},
		{"many problems at once", []wsFrame{{b0: 0x3B, payload: []byte(big)}}},
		{"control frame over 125 bytes", []wsFrame{masked(0x89, big)}},
		{"fragmented ping", []wsFrame{masked(0x09, "p")}},
		{"continuation first", []wsFrame{masked(0x80, "x")}},
		{"text inside a fragmented message", []wsFrame{masked(0x01, "4a"), masked(0x81, "4b")}},
		{"message over the limit", []wsFrame{masked(0x82, big)}},
		{"fragments over the limit", []wsFrame{masked(0x02, big[:80]), masked(0x80, big[:80])}},
		{"length with its top bit set", []wsFrame{{b0: 0x82, length: 1 << 63, masked: true}}},
		{"length past the limit, nothing sent", []wsFrame{{b0: 0x82, length: 1 << 40, masked: true}}},
		{"close with a status and text", []wsFrame{closeFrame(1001, "bye")}},
		{"close without a status", []wsFrame{masked(0x88, "")}},
		{"close of one byte", []wsFrame{masked(0x88, "\x03")}},
		{"close with 1005", []wsFrame{closeFrame(1005, "")}},
		{"close with 1004", []wsFrame{closeFrame(1004, "")}},
		{"close with 999", []wsFrame{closeFrame(999, "")}},
		{"close with 1014", []wsFrame{closeFrame(1014, "")}},
		{"close with 1015", []wsFrame{closeFrame(1015, "")}},
		{"close with 3000", []wsFrame{closeFrame(3000, "")}},
		{"close with 5000", []wsFrame{closeFrame(5000, "")}},
		{"close with text not UTF-8", []wsFrame{closeFrame(1000, "\xff")}},
		{"text not UTF-8", []wsFrame{masked(0x81, "4\xff")}},
		{"not a packet", []wsFrame{masked(0x81, "abc")}},
	}
	opts := func(deflate bool) *Options {
		return &Options{MaxHTTPBufferSize: 100, PerMessageDeflate: deflate}
	}
	own, gorilla := newTestServer(t, false, opts(false)), newTestServer(t, false, opts(true))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := exchange(t, gorilla, true, tc.frames)
			got := exchange(t, own, false, tc.frames)
			if !bytes.Equal(got.reply, want.reply) {
				t.Errorf("reply\n got % x\nwant % x (gorilla's)", got.reply, want.reply)
			}
			if len(got.events) != len(want.events) {
				t.Fatalf("events\n got %+v\nwant %+v", got.events, want.events)
			}
			for i := range got.events {
				if got.events[i] != want.events[i] {
					t.Errorf("event %d: got %+v, want %+v", i, got.events[i], want.events[i])
				}
			}
		})
	}
}

// TestOwnFrameReaderIsUsed checks which side reads the frames: the
// transport without compression, gorilla with it.
func TestOwnFrameReaderIsUsed(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		ts := newTestServer(t, false, &Options{PerMessageDeflate: deflate})
		c, _ := rawWebSocket(t, ts.addr(), deflate)
		t.Cleanup(func() { _ = c.Close() })
		if own := ts.session(t).conn.webSocket().conn == nil; own == deflate {
			t.Errorf("compression %v: transport reads its own frames: %v", deflate, own)
		}
	}
}

// TestOwnFrameReaderRefusesRSV1 sends a frame with RSV1, which only a
// negotiated compression allows: the session ends with close status 1002.
func TestOwnFrameReaderRefusesRSV1(t *testing.T) {
	ts := newTestServer(t, false, nil)
	got := exchange(t, ts, false, []wsFrame{masked(0xC1, "4x")})
	want := append([]byte{0x88, 10, 0x03, 0xea}, "RSV1 set"...)
	if !bytes.Equal(got.reply, want) {
		t.Errorf("reply % x, want % x", got.reply, want)
	}
	if e := got.events[len(got.events)-1]; e.reason != ReasonTransportError {
		t.Errorf("closed with %q, want %q", e.reason, ReasonTransportError)
	}
}

// FuzzOwnFrameReader reads arbitrary bytes as a client's frames: every
// read ends with a message within the limit or an error, never a panic.
func FuzzOwnFrameReader(f *testing.F) {
	for _, frames := range [][]wsFrame{
		{masked(0x81, "4hello")},
		{masked(0x01, "4he"), masked(0x89, "p"), masked(0x80, "llo")},
		{closeFrame(1000, "bye")},
		{masked(0x82, strings.Repeat("z", 300))},
		{{b0: 0x82, length: 1 << 40, masked: true}},
	} {
		var b []byte
		for _, fr := range frames {
			b = append(b, fr.bytes()...)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 256
		bc := &batchConn{Conn: discardConn{}, ownFrames: true}
		bc.reader = bufio.NewReaderSize(bytes.NewReader(data), readBufferSize)
		tr := &wsTransport{batch: bc}
		buf := &msgBuf{}
		for {
			op, err := tr.readFrames(buf, limit)
			if err != nil {
				return
			}
			if op != opText && op != opBinary {
				t.Fatalf("opcode %d", op)
			}
			if len(buf.b) > limit {
				t.Fatalf("%d bytes read, over the limit of %d", len(buf.b), limit)
			}
		}
	})
}

// discardConn is a net.Conn that takes every write and has nothing to read.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkMaskBytes64K masks a 64 KiB payload, as a binary attachment
// from a client is unmasked.
func BenchmarkMaskBytes64K(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		maskBytes(buf, [4]byte{1, 2, 3, 4})
	}
}
