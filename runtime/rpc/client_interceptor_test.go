package rpc_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
)

// TestClientInterceptors: client interceptors run in order around every
// call, see the method, the deadline and the headers, and may change the
// headers going out and the status coming back.
func TestClientInterceptors(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var seen []string
	record := func(name string) rpc.UnaryInterceptor {
		return func(next rpc.UnaryFunc) rpc.UnaryFunc {
			return func(ctx context.Context, req proto.Message) (proto.Message, error) {
				ci, _ := rpc.ClientCallInfoFromContext(ctx)
				_, hasDeadline := ctx.Deadline()
				mu.Lock()
				seen = append(seen, name+" "+ci.Event+" "+rpc.OutgoingHeaders(ctx)["x-tag"])
				mu.Unlock()
				if !hasDeadline {
					t.Errorf("%s: the call has no deadline", name)
				}
				return next(ctx, req)
			}
		}
	}
	tag := func(next rpc.UnaryFunc) rpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			return next(rpc.WithHeaders(ctx, map[string]string{"x-tag": "from-interceptor"}), req)
		}
	}
	// hide turns invalid_argument into not_found, as an interceptor
	// translating errors would.
	hide := func(next rpc.UnaryFunc) rpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			res, err := next(ctx, req)
			if rpc.CodeOf(err) == rpc.CodeInvalidArgument {
				return nil, rpc.Errorf(rpc.CodeNotFound, "hidden")
			}
			return res, err
		}
	}
	var subs []string
	subscribe := func(next rpc.SubscribeFunc) rpc.SubscribeFunc {
		return func(ctx context.Context, req proto.Message) (string, error) {
			ci, _ := rpc.ClientCallInfoFromContext(ctx)
			key, err := next(ctx, req)
			subs = append(subs, ci.Event+" "+key)
			return key, err
		}
	}
	conn := rpc.NewClientConn(f.dial(t, nil),
		rpc.WithClientInterceptors(record("outer"), tag, hide, record("inner")),
		rpc.WithClientSubscribeInterceptors(subscribe))
	c := chatv1sio.NewChatServiceClient(conn)
	res, err := c.Join(context.Background(), &chatv1.JoinRequest{Room: "r", User: "ann"})
	if err != nil || !slices.Equal(res.GetMembers(), []string{"ann", "from-interceptor"}) {
		t.Fatalf("Join: %v, %v (the interceptor's header must reach the server)", res, err)
	}
	if _, err := c.Join(context.Background(), &chatv1.JoinRequest{User: "bob"}); rpc.CodeOf(err) != rpc.CodeNotFound {
		t.Errorf("the interceptor did not change the status: %v", err)
	}
	ev := chatv1sio.ChatServiceJoinEvent
	want := []string{"outer " + ev + " ", "inner " + ev + " from-interceptor", "outer " + ev + " ", "inner " + ev + " from-interceptor"}
	mu.Lock()
	if !slices.Equal(seen, want) {
		t.Errorf("interceptors saw %q, want %q", seen, want)
	}
	mu.Unlock()

	// An interceptor may shorten the deadline; the server sees it.
	short := rpc.NewClientConn(f.dial(t, nil), rpc.WithClientInterceptors(func(next rpc.UnaryFunc) rpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			return next(ctx, req)
		}
	}))
	_, err = chatv1sio.NewChatServiceClient(short).SendMessage(context.Background(), &chatv1.SendMessageRequest{Text: "slow"})
	if rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
		t.Errorf("a deadline set by an interceptor: %v", err)
	}
	select {
	case <-f.chat.slowEnd:
	case <-time.After(5 * time.Second):
		t.Error("the handler did not end at the interceptor's deadline")
	}

	st, err := c.WatchRoom(context.Background(), &chatv1.WatchRoomRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if want := []string{chatv1sio.ChatServiceWatchRoomEvent + " " + rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "r")}; !slices.Equal(subs, want) {
		t.Errorf("the subscribe interceptor saw %q, want %q", subs, want)
	}
}

// TestStreamReceiveHonoursTheContext: Receive gives up at its context's
// end and the stream stays usable; Close ends a Receive waiting on another
// goroutine at once.
func TestStreamReceiveHonoursTheContext(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	st, err := c.WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Receive(ctxTimeout(t, 100*time.Millisecond)); rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
		t.Fatalf("Receive with nothing to receive: %v", err)
	}
	if _, err := f.client(t).SendMessage(ctxTimeout(t, 5*time.Second), &chatv1.SendMessageRequest{Room: "r", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	msg, err := st.Receive(ctxTimeout(t, 5*time.Second))
	if err != nil || msg.GetMessage().GetText() != "hi" {
		t.Fatalf("Receive after the timeout: %v, %v", msg, err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := st.Receive(context.Background())
		ended <- err
	}()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	select {
	case err := <-ended:
		if rpc.CodeOf(err) != rpc.CodeCanceled {
			t.Errorf("Receive during Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Receive")
	}
}
