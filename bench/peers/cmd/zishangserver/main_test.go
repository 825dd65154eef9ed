package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestEvents checks the events cmd/siobench sends, with the replies it
// accepts: the same frames as from internal/benchsrv.
func TestEvents(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func() (int, string) {
		t.Helper()
		for {
			mt, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if mt == websocket.TextMessage && string(b) == "2" { // a ping
				_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			return mt, string(b)
		}
	}
	send := func(mt int, s string) {
		t.Helper()
		if err := ws.WriteMessage(mt, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if _, open := read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	send(websocket.TextMessage, "40")
	if _, c := read(); !strings.HasPrefix(c, "40{") {
		t.Fatalf("connect reply %q", c)
	}
	send(websocket.TextMessage, `421["echo","xxxxxxxxxxxxxx"]`)
	if _, got := read(); got != `431["xxxxxxxxxxxxxx"]` {
		t.Errorf("echo ack %q", got)
	}
	payload := bytes.Repeat([]byte{1, 2, 3, 250}, 1<<14)
	send(websocket.TextMessage, `451-2["echo",{"_placeholder":true,"num":0}]`)
	send(websocket.BinaryMessage, string(payload))
	if _, got := read(); got != `461-2[{"_placeholder":true,"num":0}]` {
		t.Errorf("binary echo ack %q", got)
	}
	if mt, got := read(); mt != websocket.BinaryMessage || got != string(payload) {
		t.Errorf("binary echo attachment: type %d, %d bytes", mt, len(got))
	}
	send(websocket.TextMessage, `423["join","fan"]`)
	if _, got := read(); got != `433[]` {
		t.Errorf("join ack %q", got)
	}
	send(websocket.TextMessage, `424["fanout","fan",{"n":7,"t":1764806400123456789}]`)
	// The broadcast to the room (this socket is in it) and the ack, in
	// either order; the time may come back rounded, as a float.
	var msg, ack string
	for range 2 {
		if _, got := read(); strings.HasPrefix(got, `42["msg",{"n":7,"t":`) {
			msg = got
		} else {
			ack = got
		}
	}
	if msg == "" || !strings.HasSuffix(msg, "}]") || ack != `434[]` {
		t.Errorf("fanout: broadcast %q, ack %q", msg, ack)
	}
}
