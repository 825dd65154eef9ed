package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// TestTypedCallsOverMessagePack makes typed calls, unary and streaming,
// between a Go client and a Go server that both use the MessagePack
// parser: requests, replies, metadata and statuses travel as msgpack bin
// and maps instead of attachments and JSON.
func TestTypedCallsOverMessagePack(t *testing.T) {
	for _, transport := range []string{engineio.TransportPolling, engineio.TransportWebSocket} {
		t.Run(transport, func(t *testing.T) {
			srv := socketio.NewServer(&socketio.Options{Parser: sioparser.MessagePack{}})
			chat := &chatServer{srv: srv, slowEnd: make(chan error, 1)}
			if err := chatv1sio.RegisterChatServiceServer(srv, chat); err != nil {
				t.Fatal(err)
			}
			hs := siotest.Serve(t, srv, srv)
			dial := func() *chatv1sio.ChatServiceClient {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s, err := sioclient.Connect(ctx, hs.URL+chatv1sio.ChatServiceNamespace,
					&sioclient.Options{Transports: []string{transport}, Parser: sioparser.MessagePack{}}, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Manager().Close() })
				return chatv1sio.NewChatServiceClient(rpc.NewClientConn(s))
			}
			c := dial()

			ctx := rpc.WithHeaders(ctxTimeout(t, 5*time.Second), map[string]string{"x-tag": "mp"})
			res, err := c.Join(ctx, &chatv1.JoinRequest{Room: "lobby", User: "ann"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.GetMembers(), []string{"ann", "mp"}) {
				t.Errorf("members %v", res.GetMembers())
			}
			_, err = c.Join(ctx, &chatv1.JoinRequest{User: "bob"})
			var re *rpc.Error
			if !errors.As(err, &re) || re.Code() != rpc.CodeInvalidArgument || len(re.Details()) != 1 {
				t.Fatalf("error %v", err)
			}
			short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := c.SendMessage(short, &chatv1.SendMessageRequest{Text: "slow"}); rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
				t.Errorf("slow call: %v", err)
			}
			if err := <-chat.slowEnd; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the handler's context ended with %v", err)
			}

			// A stream: two subscribers of a room, messages published to it.
			var streams []*rpc.Stream[*chatv1.WatchRoomResponse]
			for range 2 {
				st, err := dial().WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r1"})
				if err != nil {
					t.Fatal(err)
				}
				streams = append(streams, st)
			}
			const messages = 20
			for i := range messages {
				if _, err := c.SendMessage(ctxTimeout(t, 5*time.Second), &chatv1.SendMessageRequest{Room: "r1", Text: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := chatv1sio.EndChatServiceWatchRoom(srv, "r1", rpc.Errorf(rpc.CodeAborted, "room closed")); err != nil {
				t.Fatal(err)
			}
			for n, st := range streams {
				for i := range messages {
					msg, err := st.Recv()
					if err != nil || msg.GetMessage().GetText() != fmt.Sprint(i) {
						t.Fatalf("subscriber %d, message %d: %v, %v", n, i, msg, err)
					}
				}
				if _, err := st.Recv(); rpc.CodeOf(err) != rpc.CodeAborted {
					t.Errorf("subscriber %d: the stream ended with %v", n, err)
				}
			}
		})
	}
}

// TestTypeScriptClientOverMessagePackInChromium runs the generated
// TypeScript client on socket.io-client with socket.io-msgpack-parser in
// a real browser against a server with the MessagePack parser: that
// parser's browser build sends only ArrayBuffers as binary, so the client
// runtime must hand it those, in requests, stream messages and replies.
func TestTypeScriptClientOverMessagePackInChromium(t *testing.T) {
	nodepeer.Require(t)
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required: %v (apt-get install chromium)", err)
	}
	script := nodepeer.BundleBrowser(t, "rpc_msgpack_page.ts")
	srv := socketio.NewServer(&socketio.Options{Parser: sioparser.MessagePack{}})
	chat := &chatServer{srv: srv, slowEnd: make(chan error, 1)}
	if err := chatv1sio.RegisterChatServiceServer(srv, chat); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><title>loading</title><script src="/page.js"></script>`)
	})
	mux.HandleFunc("/page.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(script)
	})
	hs := siotest.Serve(t, mux, srv)
	nodepeer.Run(t, 60*time.Second, "browser_page.mjs", hs.URL+"/")
}
