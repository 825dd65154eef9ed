package engineio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
)

// echo sends every message back on its session.
type echo struct{ conn *engineio.Conn }

func (e echo) OnMessage(data []byte, binary bool) {
	_ = e.conn.Send(engineio.Message{Data: append([]byte(nil), data...), Binary: binary})
}
func (echo) OnClose(engineio.CloseReason, error) {}

// printer prints what a client session receives.
type printer struct{ got chan string }

func (p printer) OnMessage(data []byte, _ bool)           { p.got <- string(data) }
func (p printer) OnClose(r engineio.CloseReason, _ error) { p.got <- "closed: " + string(r) }

func Example() {
	srv := engineio.NewServer(engineio.HandlerFunc(func(c *engineio.Conn) engineio.Receiver {
		return echo{c}
	}), nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := printer{got: make(chan string, 4)}
	conn, err := engineio.Dial(ctx, hs.URL, p, &engineio.DialOptions{
		Transports: []string{engineio.TransportWebSocket},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = conn.Send(engineio.Message{Data: []byte("hello")})
	fmt.Println(<-p.got)
	conn.Close()
	fmt.Println(<-p.got)
	// Output:
	// hello
	// closed: forced close
}
