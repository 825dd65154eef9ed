package socketio

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/internal/nodepeer"
)

// wrongStatePackets are packets that do not fit the connection's state:
// for a namespace the client never joined, or a second CONNECT. The
// reference server closes the connection on each; so must we.
var wrongStatePackets = []struct{ name, packet string }{
	{"event for a namespace not joined", `42/admin,["echo","x"]`},
	{"ack for a namespace not joined", `43/admin,1[]`},
	{"disconnect for a namespace not joined", `41/admin,`},
	{"second connect", `40`},
	{"connect error from a client", `44{"message":"x"}`},
}

// wrongStateOutcome joins "/" over a raw WebSocket at addr, sends packet,
// then an echo, and reports whether the connection was closed rather than
// the echo answered.
func wrongStateOutcome(t *testing.T, addr, packet string) (closed bool) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open: %q %v", open, err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("40"))
	if _, ack, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(ack), "40{") {
		t.Fatalf("connect: %q %v", ack, err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(packet))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42["echo","alive"]`))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return true
		}
		switch string(msg) {
		case `42["echo","alive"]`:
			return false
		case "1": // an Engine.IO close packet
			return true
		}
	}
}

func TestWrongStatePacketsCloseTheConnection(t *testing.T) {
	nodepeer.Require(t)
	node := nodepeer.Start(t, "listening", "sio_server.mjs", "0")
	_, goURL := newInteropServer(t, nil)
	goAddr := strings.TrimPrefix(goURL, "http://")
	// A fitting packet keeps the connection on both: the test can tell.
	for _, addr := range []string{"127.0.0.1:" + node.Port(), goAddr} {
		if wrongStateOutcome(t, addr, `42["no handler"]`) {
			t.Fatalf("%s closed the connection after an event for a joined namespace", addr)
		}
	}
	for _, tt := range wrongStatePackets {
		t.Run(tt.name, func(t *testing.T) {
			if !wrongStateOutcome(t, "127.0.0.1:"+node.Port(), tt.packet) {
				t.Fatalf("the reference server kept the connection after %q", tt.packet)
			}
			if !wrongStateOutcome(t, goAddr, tt.packet) {
				t.Errorf("the connection stayed open after %q; the reference server closes it", tt.packet)
			}
		})
	}
}
