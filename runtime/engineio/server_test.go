package engineio

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHandshakePolling(t *testing.T) {
	ts := newTestServer(t, false, &Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond,
		Cookie: &CookieOptions{HTTPOnly: true}})
	resp, err := http.Get(ts.url("EIO=4&transport=polling"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body[0] != '0' {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var h map[string]any
	if err := json.Unmarshal(body[1:], &h); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sid": h["sid"], "upgrades": []any{"websocket"}, "pingInterval": 300.0, "pingTimeout": 200.0, "maxPayload": 1e6}
	if len(h) != len(want) {
		t.Errorf("open packet keys: %v", h)
	}
	for k, v := range want {
		if got, _ := json.Marshal(h[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	sid, _ := h["sid"].(string)
	if len(sid) < 20 {
		t.Errorf("sid %q is too short to be unguessable", sid)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "io" || cookies[0].Value != sid || !cookies[0].HttpOnly || cookies[0].Path != "/" {
		t.Errorf("cookies = %v", cookies)
	}
	if r := ts.session(t); r.conn.ID() != sid || r.conn.Transport() != TransportPolling || r.conn.Request() == nil {
		t.Errorf("session id %q transport %q", r.conn.ID(), r.conn.Transport())
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandshakeIDsAreUnique(t *testing.T) {
	ts := newTestServer(t, false, nil)
	seen := map[string]bool{}
	for range 50 {
		sid := openPolling(t, ts)
		if seen[sid] {
			t.Fatalf("duplicate sid %q", sid)
		}
		seen[sid] = true
	}
}

func TestRequestErrors(t *testing.T) {
	ts := newTestServer(t, false, &Options{
		AllowRequest: func(r *http.Request) error {
			switch r.URL.Query().Get("who") {
			case "banned":
				return errors.New("go away")
			case "teapot":
				return &RequestError{Status: http.StatusTeapot, Message: "short and stout"}
			}
			return nil
		},
	})
	sid := openPolling(t, ts)
	tests := []struct {
		name, method, query string
		status, code        int
		message             string
	}{
		{"no EIO", "GET", "transport=polling", 400, 5, "Unsupported protocol version"},
		{"bad EIO", "GET", "EIO=abc&transport=polling", 400, 5, "Unsupported protocol version"},
		{"EIO 3", "GET", "EIO=3&transport=polling", 400, 5, "Unsupported protocol version"},
		{"no transport", "GET", "EIO=4", 400, 0, "Transport unknown"},
		{"bad transport", "GET", "EIO=4&transport=abc", 400, 0, "Transport unknown"},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", 400, 2, "Bad handshake method"},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", 400, 3, "Bad request"},
		{"bad method on session", "PUT", "EIO=4&transport=polling&sid=" + sid, 400, 3, "Bad request"},
		{"forbidden", "GET", "EIO=4&transport=polling&who=banned", 403, 4, "go away"},
		{"custom status", "GET", "EIO=4&transport=polling&who=teapot", 418, 4, "short and stout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, ts.url(tt.query), "")
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			want := mustJSON(map[string]any{"code": tt.code, "message": tt.message})
			if body != want {
				t.Errorf("body = %s, want %s", body, want)
			}
		})
	}
	if status, _ := do(t, "GET", ts.http.URL+"/elsewhere/?EIO=4&transport=polling", ""); status != 404 {
		t.Errorf("request outside the path: status %d, want 404", status)
	}
}

func TestPollingExchange(t *testing.T) {
	ts := newTestServer(t, false, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	url := ts.url("EIO=4&transport=polling&sid=" + sid)

	if status, body := do(t, "POST", url, "4hello\x1ebAQIDBA==\x1e4€"); status != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
	for _, want := range []event{{data: "hello"}, {data: "\x01\x02\x03\x04", binary: true}, {data: "€"}} {
		if got := r.next(t); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	_ = r.conn.Send(Message{Data: []byte("a")}, Message{Data: []byte{1, 2, 3, 4}, Binary: true})
	_ = r.conn.Send(Message{Data: []byte("b")})
	if status, body := do(t, "GET", url, ""); status != 200 || body != "4a\x1ebAQIDBA==\x1e4b" {
		t.Fatalf("GET: %d %q", status, body)
	}
	// A parked GET is answered as soon as something is sent.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = r.conn.Send(Message{Data: []byte("later")})
	}()
	if status, body := do(t, "GET", url, ""); status != 200 || body != "4later" {
		t.Fatalf("parked GET: %d %q", status, body)
	}
}

func TestPollingProtocolViolationsCloseTheSession(t *testing.T) {
	tests := []struct {
		name       string
		run        func(t *testing.T, url string)
		wantReason CloseReason
		wantErr    error
	}{
		{"invalid packet", func(t *testing.T, url string) {
			if status, _ := do(t, "POST", url, "abc"); status != 400 {
				t.Errorf("status %d, want 400", status)
			}
		}, ReasonParseError, nil},
		{"ping from client", func(t *testing.T, url string) { do(t, "POST", url, "2") }, ReasonTransportError, ErrHeartbeat},
		{"client close packet", func(t *testing.T, url string) { do(t, "POST", url, "1") }, ReasonTransportClose, nil},
		{"duplicate GET", func(t *testing.T, url string) {
			first := make(chan string)
			go func() { _, body := do(t, "GET", url, ""); first <- body }()
			time.Sleep(50 * time.Millisecond)
			if status, _ := do(t, "GET", url, ""); status != 400 {
				t.Errorf("second GET status %d, want 400", status)
			}
			if body := <-first; body != "1" {
				t.Errorf("first GET got %q, want the close packet", body)
			}
		}, ReasonTransportError, ErrPollOverlap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, false, &Options{MaxHTTPBufferSize: 100})
			sid := openPolling(t, ts)
			r := ts.session(t)
			url := ts.url("EIO=4&transport=polling&sid=" + sid)
			tt.run(t, url)
			e := r.waitClose(t)
			if e.reason != tt.wantReason || (tt.wantErr != nil && !errors.Is(e.err, tt.wantErr)) {
				t.Errorf("closed with %q (%v), want %q (%v)", e.reason, e.err, tt.wantReason, tt.wantErr)
			}
			// The session is gone for later requests (a client close lingers
			// for one raced GET, answered with noop).
			if tt.wantReason == ReasonTransportClose {
				if _, body := do(t, "GET", url, ""); body != "6" {
					t.Errorf("GET racing a client close got %q, want noop", body)
				}
			}
			if status, _ := do(t, "GET", url, ""); status != 400 {
				t.Errorf("GET after close: status %d, want 400", status)
			}
		})
	}
}

// TestPollingOversizePayloadKeepsTheSession: a POST over
// MaxHTTPBufferSize is answered 413 and its payload dropped, and the
// session goes on, as with the reference server.
func TestPollingOversizePayloadKeepsTheSession(t *testing.T) {
	ts := newTestServer(t, false, &Options{MaxHTTPBufferSize: 100})
	sid := openPolling(t, ts)
	r := ts.session(t)
	url := ts.url("EIO=4&transport=polling&sid=" + sid)
	if status, _ := do(t, "POST", url, "4"+strings.Repeat("x", 100)); status != 413 {
		t.Fatalf("status %d, want 413", status)
	}
	if status, body := do(t, "POST", url, "4small"); status != 200 || body != "ok" {
		t.Fatalf("a POST after the refused one: %d %q", status, body)
	}
	if got := r.next(t); got.data != "small" {
		t.Fatalf("got %+v, want the small message only", got)
	}
}

func TestHeartbeat(t *testing.T) {
	ts := newTestServer(t, false, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	sid := openPolling(t, ts)
	r := ts.session(t)
	url := ts.url("EIO=4&transport=polling&sid=" + sid)
	for range 3 {
		if status, body := do(t, "GET", url, ""); status != 200 || body != "2" {
			t.Fatalf("GET: %d %q, want ping", status, body)
		}
		if status, _ := do(t, "POST", url, "3"); status != 200 {
			t.Fatalf("pong: status %d", status)
		}
	}
	// Stop answering: the session times out.
	if e := r.waitClose(t); e.reason != ReasonPingTimeout {
		t.Errorf("reason %q, want ping timeout", e.reason)
	}
	if status, _ := do(t, "GET", url, ""); status != 400 {
		t.Errorf("GET after timeout: %d", status)
	}
}

func wsURL(ts *testServer, query string) string {
	return "ws" + strings.TrimPrefix(ts.url(query), "http")
}

func dialWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readWS(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return mt, string(data)
}

func TestWebSocketSession(t *testing.T) {
	ts := newTestServer(t, true, nil)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	if _, open := readWS(t, ws); !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open = %q", open)
	}
	ts.session(t)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	if mt, got := readWS(t, ws); mt != websocket.TextMessage || got != "4hello" {
		t.Errorf("echo = %d %q", mt, got)
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3, 4})
	if mt, got := readWS(t, ws); mt != websocket.BinaryMessage || got != "\x01\x02\x03\x04" {
		t.Errorf("binary echo = %d %q", mt, got)
	}
}

func TestWebSocketViolations(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		mt    int
		want  CloseReason
	}{
		{"invalid packet", []byte("abc"), websocket.TextMessage, ReasonParseError},
		{"oversize message", bytes.Repeat([]byte("x"), 200), websocket.BinaryMessage, ReasonTransportError},
		{"close packet", []byte("1"), websocket.TextMessage, ReasonTransportClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, false, &Options{MaxHTTPBufferSize: 100})
			ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
			readWS(t, ws)
			r := ts.session(t)
			_ = ws.WriteMessage(tt.mt, tt.frame)
			if e := r.waitClose(t); e.reason != tt.want {
				t.Errorf("reason %q (%v), want %q", e.reason, e.err, tt.want)
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					break // the server closed the connection
				}
			}
		})
	}
}

func TestUpgradeDance(t *testing.T) {
	ts := newTestServer(t, true, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	url := ts.url("EIO=4&transport=polling&sid=" + sid)

	// A GET parked before the probe is ended with noop.
	parked := make(chan string)
	go func() { _, body := do(t, "GET", url, ""); parked <- body }()
	time.Sleep(20 * time.Millisecond)

	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, got := readWS(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if body := <-parked; body != "6" {
		t.Fatalf("parked GET got %q, want noop", body)
	}
	// Still on polling until "5": sends queue for the polling side.
	if r.conn.Transport() != TransportPolling {
		t.Fatalf("upgraded before the upgrade packet")
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	if _, got := readWS(t, ws); got != "4hello" {
		t.Fatalf("echo over upgraded ws = %q", got)
	}
	if r.conn.Transport() != TransportWebSocket {
		t.Fatalf("transport %q after upgrade", r.conn.Transport())
	}
	// Polling requests are now refused, and so is a second WebSocket.
	if status, _ := do(t, "GET", url, ""); status != 400 {
		t.Errorf("GET after upgrade: %d", status)
	}
	ws2 := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	_ = ws2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws2.ReadMessage(); err == nil {
		t.Errorf("second WebSocket on an upgraded session stayed open")
	}
	// The session survived all that.
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4still here"))
	if _, got := readWS(t, ws); got != "4still here" {
		t.Fatalf("echo = %q", got)
	}
}

// TestSecondProbeDuringUpgrade: a second WebSocket opened for a session
// while its first probe is under way is refused, and leaves nothing of
// itself in the session: the upgrade completes on the first, which then
// carries the session's traffic.
func TestSecondProbeDuringUpgrade(t *testing.T) {
	ts := newTestServer(t, true, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	// The first probe is the session's before the second one dials (under
	// load the server could otherwise take the second first).
	waitFor(t, "the first probe to be the session's", func() bool {
		r.conn.mu.Lock()
		defer r.conn.mu.Unlock()
		return r.conn.poll.probe != nil
	})
	ws2 := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	_ = ws2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws2.ReadMessage(); err == nil {
		t.Fatal("a second probe of the same session stayed open")
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, got := readWS(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	if _, got := readWS(t, ws); got != "4hello" {
		t.Fatalf("echo over the upgraded WebSocket = %q", got)
	}
}

// A server closing while a client upgrades: the client has stopped
// polling, so the close cannot wait for a GET; the upgrade completes and
// the session closes over the WebSocket, with what was queued.
func TestServerCloseDuringUpgrade(t *testing.T) {
	ts := newTestServer(t, false, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, got := readWS(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = r.conn.Send(Message{Data: []byte("last words")})
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		closed <- ts.Close(ctx)
	}()
	waitFor(t, "the session to be closing", func() bool {
		r.conn.mu.Lock()
		defer r.conn.mu.Unlock()
		return r.conn.state == stateClosing
	})
	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	if _, got := readWS(t, ws); got != "4last words" {
		t.Errorf("got %q, want the queued message over the WebSocket", got)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if e := r.waitClose(t); e.reason != ReasonServerShutdown {
		t.Errorf("reason %q", e.reason)
	}
}

func TestUpgradeTimeoutKeepsPolling(t *testing.T) {
	ts := newTestServer(t, true, &Options{UpgradeTimeout: 50 * time.Millisecond})
	sid := openPolling(t, ts)
	r := ts.session(t)
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket&sid="+sid))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("probe connection was not closed after the upgrade timeout")
	}
	url := ts.url("EIO=4&transport=polling&sid=" + sid)
	do(t, "POST", url, "4ping")
	if status, body := do(t, "GET", url, ""); status != 200 || body != "4ping" {
		t.Fatalf("polling after failed upgrade: %d %q", status, body)
	}
	if r.conn.Transport() != TransportPolling {
		t.Errorf("transport %q", r.conn.Transport())
	}
}

func TestDisableUpgrades(t *testing.T) {
	ts := newTestServer(t, false, &Options{DisableUpgrades: true})
	_, body := do(t, "GET", ts.url("EIO=4&transport=polling"), "")
	if !strings.Contains(body, `"upgrades":[]`) {
		t.Errorf("open packet %q offers upgrades", body)
	}
	ts2 := newTestServer(t, false, &Options{Transports: []string{TransportWebSocket}})
	if status, body := do(t, "GET", ts2.url("EIO=4&transport=polling"), ""); status != 400 || !strings.Contains(body, `"code":0`) {
		t.Errorf("polling on a websocket-only server: %d %s", status, body)
	}
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, false, &Options{CORS: &CORSOptions{Origins: []string{"https://app.example"}, Credentials: true, MaxAge: time.Hour}})
	req, _ := http.NewRequest("OPTIONS", ts.url("EIO=4&transport=polling"), nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Headers", "x-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Allow-Headers") != "x-token" ||
		h.Get("Access-Control-Max-Age") != "3600" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	req, _ = http.NewRequest("GET", ts.url("EIO=4&transport=polling"), nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got Allow-Origin %q", got)
	}
}

func TestPollingCompression(t *testing.T) {
	ts := newTestServer(t, false, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	big := strings.Repeat("compressible ", 200)
	_ = r.conn.Send(Message{Data: []byte(big)})
	req, _ := http.NewRequest("GET", ts.url("EIO=4&transport=polling&sid="+sid), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != "4"+big {
		t.Errorf("decompressed body differs (%d bytes)", len(got))
	}

	// A response whose every packet opted out stays uncompressed.
	_ = r.conn.Send(Message{Data: []byte(big), NoCompress: true})
	resp2, err := http.DefaultTransport.RoundTrip(req.Clone(req.Context()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	body, _ := io.ReadAll(resp2.Body)
	if resp2.Header.Get("Content-Encoding") != "" || string(body) != "4"+big {
		t.Errorf("NoCompress response: encoding %q, %d bytes", resp2.Header.Get("Content-Encoding"), len(body))
	}
}

func TestPerMessageDeflate(t *testing.T) {
	ts := newTestServer(t, true, &Options{PerMessageDeflate: true})
	d := websocket.Dialer{EnableCompression: true}
	ws, resp, err := d.Dial(wsURL(ts, "EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("deflate not negotiated: %q", ext)
	}
	readWS(t, ws)
	r := ts.session(t)
	if r.conn.webSocket().batch.ownFrames {
		t.Error("frames are written uncompressed although deflate was negotiated")
	}
	big := strings.Repeat("squeeze me ", 500)
	_ = r.conn.Send(Message{Data: []byte(big)}, Message{Data: []byte(big), NoCompress: true})
	for range 2 {
		if _, got := readWS(t, ws); got != "4"+big {
			t.Fatalf("got %d bytes", len(got))
		}
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	ts := newTestServer(t, false, &Options{MaxPendingBytes: 64 << 10})
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	r := ts.session(t)
	// The client never reads again; keep sending until the server gives up.
	chunk := Message{Data: bytes.Repeat([]byte("x"), 16<<10)}
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = r.conn.Send(chunk)
	}
	if !errors.Is(err, ErrSlowConsumer) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Send kept succeeding: %v", err)
	}
	e := r.waitClose(t)
	if e.reason != ReasonTransportError {
		t.Errorf("reason %q (%v)", e.reason, e.err)
	}
}

func TestConnClose(t *testing.T) {
	runModes(t, func(t *testing.T, opts DialOptions, want string) {
		ts := newTestServer(t, false, nil)
		c, cr := dialTestNoCleanup(t, ts, &opts)
		waitTransport(t, c, want)
		sr := ts.session(t)
		_ = sr.conn.Send(Message{Data: []byte("last words")})
		sr.conn.Close()
		if e := sr.waitClose(t); e.reason != ReasonForcedClose {
			t.Errorf("server side reason %q", e.reason)
		}
		if e := cr.next(t); e.data != "last words" {
			t.Errorf("client got %+v before close, want the queued message", e)
		}
		if e := cr.waitClose(t); e.reason != ReasonTransportClose {
			t.Errorf("client side reason %q (%v)", e.reason, e.err)
		}
		if err := sr.conn.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after close = %v", err)
		}
	})
}

func TestServerClose(t *testing.T) {
	runModes(t, func(t *testing.T, opts DialOptions, want string) {
		ts := newTestServer(t, false, nil)
		c, cr := dialTestNoCleanup(t, ts, &opts)
		waitTransport(t, c, want)
		sr := ts.session(t)
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		if err := ts.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if e := sr.waitClose(t); e.reason != ReasonServerShutdown {
			t.Errorf("server side reason %q", e.reason)
		}
		if e := cr.waitClose(t); e.reason != ReasonTransportClose {
			t.Errorf("client side reason %q (%v)", e.reason, e.err)
		}
		if err := ts.Close(ctx); !errors.Is(err, ErrServerClosed) {
			t.Errorf("second Close = %v", err)
		}
		if ts.Len() != 0 {
			t.Errorf("%d sessions left", ts.Len())
		}
	})
}

// The session keeps the handshake request's headers compactly; Request
// gives them back whole.
func TestRequestKeepsHandshakeHeaders(t *testing.T) {
	ts := newTestServer(t, false, nil)
	req, err := http.NewRequest("GET", ts.url("EIO=4&transport=polling&room=a%20b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Token", "secret: with colon")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("Cookie", "a=1; b=2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn := ts.session(t).conn
	if got := conn.Header().Values("X-Multi"); len(got) != 2 {
		t.Errorf("Header() X-Multi = %q", got)
	}
	r := conn.Request()
	if got := r.Header.Get("X-Token"); got != "secret: with colon" {
		t.Errorf("X-Token = %q", got)
	}
	if got := r.Header.Values("X-Multi"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("X-Multi = %q", got)
	}
	if got := r.Header.Get("Cookie"); got != "a=1; b=2" {
		t.Errorf("Cookie = %q", got)
	}
	if r.URL.Query().Get("room") != "a b" || r.Method != "GET" || r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 ||
		!strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") || r.Host != req.URL.Host {
		t.Errorf("request = %s %s %s (%d) from %q to %q", r.Method, r.URL, r.Proto, r.ProtoMajor, r.RemoteAddr, r.Host)
	}
	if want := "/engine.io/?EIO=4&transport=polling&room=a%20b"; r.RequestURI != want || conn.RequestURI() != want {
		t.Errorf("request URI %q, RequestURI() %q, want %q", r.RequestURI, conn.RequestURI(), want)
	}
	if conn.RemoteAddr() != r.RemoteAddr {
		t.Errorf("RemoteAddr() = %q, the request's %q", conn.RemoteAddr(), r.RemoteAddr)
	}
}

// TestWebSocketCloseFrames: the close frames are the reference's. A
// session the server closes ends with a close frame without a status
// (1005 on the client), and a frame over MaxHTTPBufferSize with 1009 and
// a close handshake: the rest of the frame is read and dropped, so the
// connection is not reset under the client.
func TestWebSocketCloseFrames(t *testing.T) {
	ts := newTestServer(t, false, &Options{MaxHTTPBufferSize: 1000})
	ws := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, ws)
	ts.session(t).conn.Close()
	var ce *websocket.CloseError
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNoStatusReceived {
				t.Fatalf("after the server closed the session: %v, want a close frame without status (1005)", err)
			}
			break
		}
	}

	big := dialWS(t, wsURL(ts, "EIO=4&transport=websocket"))
	readWS(t, big)
	ts.session(t)
	// Big enough not to fit in the socket buffers: the server stops
	// reading at the frame's header.
	wrote := make(chan error, 1)
	go func() { wrote <- big.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 8<<20))) }()
	_ = big.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := big.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("after a frame over the limit: %v, want close 1009", err)
	}
	// The client answered the close frame; the server then hangs up
	// cleanly.
	_ = big.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, big.NetConn()); err != nil {
		t.Fatalf("the connection ended with %v, want a clean end (no reset)", err)
	}
	// The write ends cleanly, or stops at the close the client sent back;
	// never with a reset.
	if err := <-wrote; err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		t.Fatalf("writing the frame over the limit: %v, want it read (and dropped) to its end, not a reset", err)
	}
}
