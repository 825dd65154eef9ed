package socketio

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// TestInvalidUTF8CannotThrowOthersOff puts the official client in a room,
// then lets hostile clients send invalid UTF-8 over WebSocket and polling
// to a handler that relays its argument (Args.Raw) to that room. The
// hostile connections are cut off (close 1007 on WebSocket, 400 on
// polling); the official client stays connected and keeps receiving.
func TestInvalidUTF8CannotThrowOthersOff(t *testing.T) {
	nodepeer.Require(t)
	for _, mode := range []string{"websocket", "polling"} {
		t.Run(mode, func(t *testing.T) {
			srv := NewServer(nil)
			nsp := srv.Of("/")
			joined := make(chan struct{}, 1)
			srv.OnConnection(func(s *Socket) {
				s.On("join", func(s *Socket, _ Args, ack Ack) {
					s.Join("room")
					_ = ack()
					joined <- struct{}{}
				})
				s.On("relay", func(s *Socket, args Args, _ Ack) {
					_ = nsp.To("room").Emit("relayed", args.Raw(0))
				})
			})
			hs := siotest.Serve(t, srv, srv)
			done := make(chan struct{})
			go func() {
				defer close(done)
				select {
				case <-joined:
				case <-time.After(20 * time.Second):
					t.Error("the official client did not join")
					return
				}
				_ = nsp.To("room").Emit("relayed", "ok before")
				hostileWebSocket(t, hs.Listener.Addr().String())
				hostilePolling(t, hs.URL)
				// The server's own invalid bytes are replaced, not sent.
				_ = nsp.To("room").Emit("relayed", json.RawMessage("\"bad \xff\""))
				_ = nsp.To("room").Emit("relayed", "ok after")
				for i := range 20 {
					_ = nsp.To("room").Emit("tick", i)
				}
				_ = nsp.To("room").Emit("done")
			}()
			nodepeer.Run(t, 30*time.Second, "utf8_room.mjs", hs.URL, mode)
			<-done
		})
	}
}

// hostileWebSocket joins "/" over a raw WebSocket and sends a text frame
// with invalid UTF-8; the server must close with status 1007.
func hostileWebSocket(t *testing.T, addr string) {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Errorf("hostile dial: %v", err)
		return
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Errorf("hostile open: %q %v", open, err)
		return
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("40"))
	if _, ack, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(ack), "40{") {
		t.Errorf("hostile connect: %q %v", ack, err)
		return
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("42[\"relay\",\"hostile \xff\xfe\"]"))
	for {
		_, msg, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.CloseInvalidFramePayloadData {
				t.Errorf("hostile WebSocket closed with %d %q, want 1007", ce.Code, ce.Text)
			}
			return
		}
		if err != nil {
			t.Errorf("hostile WebSocket: %v, want a close frame 1007", err)
			return
		}
		if strings.HasPrefix(string(msg), "42") {
			t.Errorf("hostile WebSocket got %q: its invalid text was relayed", msg)
		}
	}
}

// hostilePolling joins "/" over long-polling and POSTs a payload with
// invalid UTF-8; the server must refuse it and end the session.
func hostilePolling(t *testing.T, base string) {
	url := base + "/socket.io/?EIO=4&transport=polling"
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("hostile GET: %v", err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(u, body string) int {
		resp, err := http.Post(u, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			t.Errorf("hostile POST: %v", err)
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	_, open := get(url)
	var hs struct {
		SID string `json:"sid"`
	}
	if len(open) < 2 || json.Unmarshal([]byte(open[1:]), &hs) != nil {
		t.Errorf("hostile handshake: %q", open)
		return
	}
	session := url + "&sid=" + hs.SID
	if code := post(session, "40"); code != http.StatusOK {
		t.Errorf("hostile CONNECT: %d", code)
		return
	}
	if _, connected := get(session); !strings.HasPrefix(connected, "40{") {
		t.Errorf("hostile connect answer: %q", connected)
		return
	}
	if code := post(session, "42[\"relay\",\"ok\"]\x1e42[\"relay\",\"hostile \xc3\"]"); code != http.StatusBadRequest {
		t.Errorf("POST with invalid UTF-8 answered %d, want 400", code)
	}
	if code, body := get(session); code != http.StatusBadRequest {
		t.Errorf("session after invalid UTF-8: GET answered %d %q, want 400 (session closed)", code, body)
	}
}
