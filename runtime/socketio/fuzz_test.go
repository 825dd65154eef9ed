package socketio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// fuzzServer is a server with the features a client can reach: acks with
// binary, rooms and broadcasts, a namespace behind middleware, dynamic
// namespaces, server-to-client acks, and Socket.IO 2 clients.
func fuzzServer() *Server { return fuzzServerWith(nil) }

// fuzzServerWith is fuzzServer with a parser.
func fuzzServerWith(parser sioparser.Parser) *Server {
	srv := NewServer(&Options{MaxAttachments: 4, Engine: engineio.Options{AllowEIO3: true}, Parser: parser})
	handlers := func(s *Socket) {
		s.On("echo", func(s *Socket, args Args, ack Ack) {
			vals, err := args.Values()
			if ack != nil && err == nil {
				_ = ack(vals...)
			}
		})
		s.On("join", func(s *Socket, args Args, _ Ack) {
			var room string
			if args.Decode(0, &room) == nil {
				s.Join(room)
			}
		})
		s.On("leave", func(s *Socket, args Args, _ Ack) {
			var room string
			if args.Decode(0, &room) == nil {
				s.Leave(room)
			}
		})
		s.On("shout", func(s *Socket, args Args, _ Ack) {
			var room string
			if args.Decode(0, &room) == nil {
				_ = s.To(room).Emit("heard", room, []byte{1, 2})
			}
		})
		s.On("ask", func(s *Socket, _ Args, _ Ack) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, _ = s.EmitWithAck(ctx, "question", []byte{3})
		})
		s.OnAny(func(*Socket, string, Args) {})
	}
	srv.OnConnection(handlers)
	admin := srv.Of("/admin")
	admin.Use(func(s *Socket) error {
		var auth struct{ Token string }
		if json.Unmarshal(s.Handshake().Auth, &auth) != nil || auth.Token != "t" {
			return &ConnectError{Message: "unauthorized", Data: map[string]string{"why": "token"}}
		}
		return nil
	})
	admin.OnConnection(handlers)
	srv.OfRegexp(regexp.MustCompile(`^/dyn-\d$`)).OnConnection(handlers)
	return srv
}

// FuzzServerPolling drives a whole server session with arbitrary client
// payloads over long-polling, through ServeHTTP: whatever arrives, the
// server must answer with a status (never a 5xx), and must not panic or
// hang. Leaked sessions would show as goroutines left at the end.
func FuzzServerPolling(f *testing.F) {
	seeds := [][2]string{
		{"40", `42["echo",1,"two",{"three":[3]}]`},
		{"40", `421["echo",1,"two"]` + "\x1e" + `422["echo"]`},
		{"40", `451-["echo",{"_placeholder":true,"num":0}]` + "\x1e" + "bAQID"},
		{"40", `452-3["echo",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]` + "\x1e" + "bAQ==\x1ebAg=="},
		{"40", `42["join","r"]` + "\x1e" + `42["shout","r"]` + "\x1e" + `42["leave","r"]`},
		{"40\x1e42[\"ask\"]", `43[1]`},
		{"40\x1e42[\"ask\"]", `461-0[{"_placeholder":true,"num":0}]` + "\x1e" + "bAQ=="},
		{`40/admin,{"token":"t"}`, `42/admin,5["echo",true]`},
		{`40/admin,{"token":"no"}`, `42/admin,["echo"]`},
		{"40/dyn-7,", `42/dyn-7,["echo",null]` + "\x1e" + "41/dyn-7,"},
		{"40/nope,", "41"},
		{"40", `42["echo",{"_placeholder":true,"num":0}]`},
		{"40", `451-["echo",{"_placeholder":true,"num":9}]` + "\x1e" + "bAQ=="},
		{"40", `45-["echo"]`},
		{"40", `42[`},
		{"40", "2\x1e3\x1e6"},
		{"4", "bAQ=="},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	srv := fuzzServer()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	f.Fuzz(func(t *testing.T, first, second string) {
		sid := openPollingSession(t, srv)
		for _, body := range []string{first, second, "1"} {
			code, _ := serve(srv, http.MethodPost, sid, body)
			if code >= 500 {
				t.Fatalf("POST %q: status %d", body, code)
			}
		}
		// The close packet ended the session. A GET racing it ends at once
		// with a noop; once the session is forgotten, its sid is unknown.
		if code, body := serve(srv, http.MethodGet, sid, ""); code != http.StatusBadRequest && (code != http.StatusOK || body != "6") {
			t.Fatalf("GET after close: %d %q, want a noop or 400", code, body)
		}
		// Whatever the input did, its sockets leave every namespace and
		// room they were in.
		deadline := time.Now().Add(5 * time.Second)
		for !noSocketsLeft(srv) {
			if time.Now().After(deadline) {
				t.Fatalf("sockets left behind: %v", srv.Of("/").Adapter().Sockets(nil))
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// FuzzServerPollingMessagePack is FuzzServerPolling for a server on the
// MessagePack parser: after a CONNECT, two arbitrary binary messages.
func FuzzServerPollingMessagePack(f *testing.F) {
	enc := func(p siopacket.Packet) []byte {
		msgs, err := sioparser.MessagePack{}.Encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		return msgs[0].Data
	}
	event := func(nsp string, id uint64, args ...any) []byte {
		p, err := siopacket.NewEvent(nsp, args[0].(string), args[1:])
		if err != nil {
			f.Fatal(err)
		}
		p.ID, p.HasID = id, id > 0
		return enc(p)
	}
	connectAdmin := enc(siopacket.Packet{Type: siopacket.Connect, Namespace: "/admin", Data: []byte(`{"Token":"t"}`)})
	for _, s := range [][2][]byte{
		{event("/", 1, "echo", 1, "two", map[string]any{"three": []byte{3}}), event("/", 0, "echo")},
		{event("/", 0, "join", "r"), event("/", 0, "shout", "r")},
		{event("/", 0, "ask"), enc(siopacket.Packet{Type: siopacket.BinaryAck, Namespace: "/", ID: 1, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1}}})},
		{connectAdmin, event("/admin", 5, "echo", true)},
		{enc(siopacket.Packet{Type: siopacket.Connect, Namespace: "/dyn-7"}), enc(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/dyn-7"})},
		{event("/", 2, "echo", []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5}), {0x91}},
		{{0xdf, 0xff, 0xff, 0xff, 0xff}, {}},
	} {
		f.Add(s[0], s[1])
	}
	srv := fuzzServerWith(sioparser.MessagePack{})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	record := func(b []byte) string { return "b" + base64.StdEncoding.EncodeToString(b) }
	connect := record(enc(siopacket.Packet{Type: siopacket.Connect, Namespace: "/"}))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		sid := openPollingSession(t, srv)
		for _, body := range []string{connect + "\x1e" + record(first), record(second), "1"} {
			code, _ := serve(srv, http.MethodPost, sid, body)
			if code >= 500 {
				t.Fatalf("POST %q: status %d", body, code)
			}
		}
		if code, body := serve(srv, http.MethodGet, sid, ""); code != http.StatusBadRequest && (code != http.StatusOK || body != "6") {
			t.Fatalf("GET after close: %d %q, want a noop or 400", code, body)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !noSocketsLeft(srv) {
			if time.Now().After(deadline) {
				t.Fatalf("sockets left behind: %v", srv.Of("/").Adapter().Sockets(nil))
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// noSocketsLeft reports whether the fuzzed server's fixed namespaces are
// empty, in their socket lists and their rooms.
func noSocketsLeft(srv *Server) bool {
	for _, name := range []string{"/", "/admin"} {
		nsp := srv.Of(name)
		if len(nsp.Sockets()) > 0 || len(nsp.Adapter().Sockets(nil)) > 0 {
			return false
		}
	}
	return true
}

// openPollingSession does the Engine.IO polling handshake and returns the
// session id.
func openPollingSession(t *testing.T, srv *Server) string {
	t.Helper()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=4&transport=polling", nil))
	var open struct {
		SID string `json:"sid"`
	}
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("handshake: %d %q", w.Code, body)
	}
	return open.SID
}

// serve sends one polling request for session sid and returns the
// response's status and body.
func serve(srv *Server, method, sid, body string) (int, string) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, "/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader(body))
	srv.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}
