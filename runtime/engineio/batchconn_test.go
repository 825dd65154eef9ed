package engineio

import (
	"fmt"
	"sync"
	"testing"
	"time"

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
	if r.conn.batch == nil {
		t.Fatal("the server WebSocket is not on a batchConn")
	}
	pings := 0
	ws.SetPingHandler(func(string) error { pings++; return nil })
	const n = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			_ = r.conn.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
		}
	})
	for i := range n {
		msgs := []Message{{Data: fmt.Appendf(nil, "%d", i)}}
		if i%10 == 0 {
			msgs = append(msgs, Message{Data: make([]byte, 40<<10), Binary: true}) // crosses the batch limit
		}
		if err := r.conn.Send(msgs...); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
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
	if pings == 0 {
		t.Error("no control frame was seen")
	}
}
