package engineio

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// TestBatchedFramesStayWhole sends bursts of messages, gathered into
// single writes, while another goroutine writes control frames on the same
// connection: every frame must arrive intact and in order.
func TestBatchedFramesStayWhole(t *testing.T) {
	ts := newTestServer(t, false, nil)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	r := ts.session(t)
	if wst := r.conn.webSocket(); wst == nil || wst.batch == nil {
		t.Fatal("the server WebSocket is not on a batchConn")
	}
	pings := 0
	ws.SetPingHandler(func(string) error { pings++; return nil })
	const n = 2000
	var pinger, wg sync.WaitGroup
	pinger.Go(func() {
		for range 200 {
			r.conn.webSocket().writeControl(opPing, []byte("p"))
		}
	})
	// Read while sending: 8 MB unread would fill the socket buffers and
	// stall the writer past its deadline on a loaded machine.
	wg.Go(func() {
		for i := range n {
			msgs := []Message{{Data: fmt.Appendf(nil, "%d", i)}}
			if i%10 == 0 {
				msgs = append(msgs, Message{Data: make([]byte, 40<<10), Binary: true}) // crosses the batch limit
			}
			if err := r.conn.Send(msgs...); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer wg.Wait()
	for i := range n {
		mt, data := readWS(t, ws)
		if mt != websocket.TextMessage || data != fmt.Sprintf("4%d", i) {
			t.Fatalf("message %d: %d %q", i, mt, data[:min(len(data), 20)])
		}
		if i%10 == 0 {
			if mt, data := readWS(t, ws); mt != websocket.BinaryMessage || len(data) != 40<<10 {
				t.Fatalf("attachment %d: %d, %d bytes", i, mt, len(data))
			}
		}
	}
	// A last message, sent after every ping, brings them all in.
	pinger.Wait()
	if err := r.conn.Send(Message{Data: []byte("end")}); err != nil {
		t.Fatal(err)
	}
	if _, data := readWS(t, ws); data != "4end" {
		t.Fatalf("got %q, want the last message", data)
	}
	if pings == 0 {
		t.Error("no control frame was seen")
	}
}

// TestOwnFramesEveryLength sends messages whose frames need each form of
// the length field (7-bit, 16-bit, 64-bit, at and around the limits), some
// copied into the batch and some written in place, and reads them back
// with gorilla's frame parser.
func TestOwnFramesEveryLength(t *testing.T) {
	ts := newTestServer(t, false, nil)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	r := ts.session(t)
	if !r.conn.webSocket().batch.ownFrames {
		t.Fatal("the server does not frame its own messages")
	}
	// Text frames carry one more byte, the packet type.
	sizes := []int{0, 1, 124, 125, 126, 127, 0xFFFE, 0xFFFF, 0x10000, inPlacePayload - 2, inPlacePayload - 1, inPlacePayload, 300 << 10}
	var msgs []Message
	for _, n := range sizes {
		text := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		bin := payloadOf(n)
		msgs = append(msgs, Message{Data: text}, Message{Data: bin, Binary: true})
	}
	if err := r.conn.Send(msgs...); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		mt, data := readWS(t, ws)
		want, wantType := "4"+string(m.Data), websocket.TextMessage
		if m.Binary {
			want, wantType = string(m.Data), websocket.BinaryMessage
		}
		if mt != wantType || data != want {
			t.Fatalf("%d-byte message (binary %v): got type %d, %d bytes", len(m.Data), m.Binary, mt, len(data))
		}
	}
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestOffersDeflate(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{"permessage-deflate"}, true},
		{[]string{"permessage-deflate; client_max_window_bits"}, true},
		{[]string{"x-webkit-deflate-frame, Permessage-Deflate ;server_no_context_takeover"}, true},
		{[]string{"x-other", "permessage-deflate"}, true},
		{[]string{"permessage-deflater"}, false},
		{[]string{"foo; permessage-deflate"}, false},
	} {
		h := http.Header{}
		for _, v := range tc.header {
			h.Add("Sec-WebSocket-Extensions", v)
		}
		if got := offersDeflate(h); got != tc.want {
			t.Errorf("offersDeflate(%q) = %v", tc.header, got)
		}
	}
}

// TestDeflateServerWithoutClientOffer: a server that allows compression
// frames messages itself for a client that did not ask for it.
func TestDeflateServerWithoutClientOffer(t *testing.T) {
	ts := newTestServer(t, false, &Options{PerMessageDeflate: true})
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	r := ts.session(t)
	if !r.conn.webSocket().batch.ownFrames {
		t.Fatal("compression was not offered, yet frames go through the compressing writer")
	}
	_ = r.conn.Send(Message{Data: []byte("plain")})
	if _, got := readWS(t, ws); got != "4plain" {
		t.Fatalf("got %q", got)
	}
}

// TestMaskBytes checks the unrolled masking against the byte-wise
// definition (RFC 6455 section 5.3), for every length around a word and
// around the 64-byte rounds.
func TestMaskBytes(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := range 300 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 37)
		}
		got := bytes.Clone(data)
		maskBytes(got, key)
		for i := range data {
			if want := data[i] ^ key[i%4]; got[i] != want {
				t.Fatalf("length %d, byte %d: %#x, want %#x", n, i, got[i], want)
			}
		}
	}
}

// TestClientFramesAreMasked: the Go client writes its own frames, which a
// server must refuse unless masked (gorilla does): a session that
// exchanges messages both ways, big ones included, proves them masked and
// whole.
func TestClientFramesAreMasked(t *testing.T) {
	ts := newTestServer(t, false, &Options{MaxHTTPBufferSize: 1 << 20})
	c, err := Dial(t.Context(), ts.http.URL, newRecorder(false), &DialOptions{Transports: []string{TransportWebSocket}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := ts.session(t)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		if err := c.Send(Message{Data: payload, Binary: true}, Message{Data: []byte("text " + strconv.Itoa(n))}); err != nil {
			t.Fatal(err)
		}
		if m := r.next(t); !m.binary || m.data != string(payload) {
			t.Fatalf("binary of %d bytes arrived as %d bytes (binary %v)", n, len(m.data), m.binary)
		}
		if m := r.next(t); m.binary || m.data != "text "+strconv.Itoa(n) {
			t.Fatalf("text after %d bytes arrived as %q", n, m.data)
		}
	}
}
