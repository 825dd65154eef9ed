package attack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/internal/siotest"
)

// TestInvalidUTF8Relay has hostile clients send invalid UTF-8 over
// WebSocket and polling to a handler that relays it to a room, while a
// client in that room checks that every frame it gets is valid UTF-8 and
// that it stays connected.
func TestInvalidUTF8Relay(t *testing.T) {
	const attacks = 50
	bin := siotest.BuildProgram(t, "./internal/attack/nsptarget")
	p := siotest.StartProcess(t, bin)

	victim := dialNsp(t, p.Addr)
	defer victim.ws.Close()
	_ = victim.ws.WriteMessage(websocket.TextMessage, []byte("40"))
	_ = victim.ws.WriteMessage(websocket.TextMessage, []byte(`421["join"]`))
	frames := make(chan string, 4*attacks)
	victimErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := victim.ws.ReadMessage()
			if err != nil {
				victimErr <- err
				return
			}
			if string(msg) == "2" {
				_ = victim.ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			frames <- string(msg)
		}
	}()
	expect := func(prefix string) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case f := <-frames:
				if !utf8.ValidString(f) {
					t.Errorf("the room got a frame that is not UTF-8: %q", f)
				}
				if strings.HasPrefix(f, prefix) {
					return f
				}
			case err := <-victimErr:
				t.Fatalf("the client in the room was disconnected: %v", err)
			case <-deadline:
				t.Fatalf("no %q frame within 20s", prefix)
			}
		}
	}
	expect("431[]")

	wsCut, pollCut := 0, 0
	for i := range attacks {
		if hostileWebSocketCut(t, p.Addr, i) {
			wsCut++
		}
		if hostilePollingRefused(t, p.URL(), i) {
			pollCut++
		}
		// A valid relay still reaches the room after each attack.
		good := dialNsp(t, p.Addr)
		_ = good.ws.WriteMessage(websocket.TextMessage, []byte("40"))
		_ = good.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42["relay","good %d"]`, i)))
		if f := expect(`42["relayed","good`); f != fmt.Sprintf(`42["relayed","good %d"]`, i) {
			t.Errorf("relayed %q", f)
		}
		_ = good.ws.Close()
	}
	t.Logf("FIGURE hostile WebSocket connections closed with 1007: %d of %d", wsCut, attacks)
	t.Logf("FIGURE hostile polling POSTs refused with the session ended: %d of %d", pollCut, attacks)
	t.Logf("FIGURE disconnects of the client in the room: %d", len(victimErr))
	if wsCut != attacks || pollCut != attacks {
		t.Errorf("%d WebSocket and %d polling attacks of %d were cut off", wsCut, pollCut, attacks)
	}
}

// hostileWebSocketCut sends invalid UTF-8 in a relay event over WebSocket
// and reports whether the server closed the connection with 1007.
func hostileWebSocketCut(t *testing.T, addr string, i int) bool {
	c := dialNsp(t, addr)
	defer c.ws.Close()
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte("40"))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("42[\"relay\",\"bad %d \xff\xc3\"]", i)))
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code == websocket.CloseInvalidFramePayloadData
		}
		if err != nil {
			return false
		}
	}
}

// hostilePollingRefused does the same over long-polling and reports
// whether the POST was refused and the session ended.
func hostilePollingRefused(t *testing.T, base string, i int) bool {
	url := base + "/socket.io/?EIO=4&transport=polling"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var hs struct {
		SID string `json:"sid"`
	}
	if len(open) < 2 || json.Unmarshal(open[1:], &hs) != nil {
		t.Fatalf("handshake %q", open)
	}
	session := url + "&sid=" + hs.SID
	post := func(body string) int {
		resp, err := http.Post(session, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if post("40") != http.StatusOK {
		return false
	}
	if post(fmt.Sprintf("42[\"relay\",\"bad %d \xed\xa0\x80\"]", i)) != http.StatusBadRequest {
		return false
	}
	resp, err = http.Get(session)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusBadRequest
}
