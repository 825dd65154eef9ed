package connectchat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
)

// TestSendMessage makes one call over h2c, with and without gzip, and
// checks the answer the load tool expects.
func TestSendMessage(t *testing.T) {
	if SendMessageProcedure != "/example.chat.v1.ChatService/SendMessage" {
		t.Errorf("procedure %q", SendMessageProcedure)
	}
	mux := http.NewServeMux()
	mux.Handle(Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = H2C()
	srv.Start()
	defer srv.Close()
	for _, opts := range [][]connect.ClientOption{nil, {connect.WithAcceptCompression("gzip", nil, nil)}} {
		tr := &http.Transport{Protocols: H2C()}
		c := NewClient(&http.Client{Transport: tr}, srv.URL, opts...)
		res, err := c.CallUnary(context.Background(), connect.NewRequest(&chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetId() != 5 {
			t.Errorf("id %d, want 5", res.Msg.GetId())
		}
		tr.CloseIdleConnections()
	}
}
