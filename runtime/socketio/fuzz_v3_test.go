package socketio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzServerPollingV3 is FuzzServerPolling for Socket.IO 2 clients: a
// revision 3 session (on "/" from the start) gets arbitrary payloads, text
// or binary form, and must answer each with a status (never a 5xx),
// without a panic, a hang or sockets left behind.
func FuzzServerPollingV3(f *testing.F) {
	seeds := []struct {
		first, second string
		binary        bool
	}{
		{`33:42["echo",1,"two",{"three":[3]}]`, `14:42["join","r"]`, false},
		{`43:451-["echo",{"_placeholder":true,"num":0}]8:b4AQIDBA==`, `15:42["shout","r"]`, false},
		{"\x00\x04\x03\xff451-[\"echo\",{\"_placeholder\":true,\"num\":0}]", "\x01\x04\xff\x04\x01\x02\x03", true},
		{`20:40/admin?token=t,`, `25:42/admin,5["echo",true]`, false},
		{`21:40/admin?token=no,`, `12:41/admin,`, false},
		{`1:2`, `1:3`, false},
		{`2:4😀`, `9:4hi`, false},
		{`12:42["ask"]`, `6:43[1]`, false},
		{"", "", true},
	}
	for _, s := range seeds {
		f.Add(s.first, s.second, s.binary)
	}
	srv := fuzzServer()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	f.Fuzz(func(t *testing.T, first, second string, binary bool) {
		sid := openPollingSessionV3(t, srv)
		for _, body := range []string{first, second} {
			if code, _ := serveV3(srv, http.MethodPost, sid, body, binary); code >= 500 {
				t.Fatalf("POST %q: status %d", body, code)
			}
		}
		if code, _ := serveV3(srv, http.MethodPost, sid, "1:1", false); code >= 500 {
			t.Fatalf("close: status %d", code)
		}
		if code, body := serveV3(srv, http.MethodGet, sid, "", false); code != http.StatusBadRequest && (code != http.StatusOK || body != "1:6") {
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

// openPollingSessionV3 does a revision 3 polling handshake ("<n>:0{...}")
// and returns the session id.
func openPollingSessionV3(t *testing.T, srv *Server) string {
	t.Helper()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=3&transport=polling&b64=1", nil))
	var open struct {
		SID string `json:"sid"`
	}
	_, packet, _ := strings.Cut(w.Body.String(), ":")
	if w.Code != http.StatusOK || !strings.HasPrefix(packet, "0") || json.Unmarshal([]byte(packet[1:]), &open) != nil {
		t.Fatalf("handshake: %d %q", w.Code, w.Body.String())
	}
	return open.SID
}

// serveV3 sends one revision 3 polling request, the body in binary form
// if binary.
func serveV3(srv *Server, method, sid, body string, binary bool) (int, string) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, "/socket.io/?EIO=3&transport=polling&b64=1&sid="+sid, strings.NewReader(body))
	if binary {
		r.Header.Set("Content-Type", "application/octet-stream")
	}
	srv.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}
