package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

const echoEvent = "test.v1.EchoService/Echo"

// blockingServer serves echoEvent with a handler that waits until its
// context ends or release is closed, and reports how it ended.
type blockingServer struct {
	srv     *socketio.Server
	url     string
	started chan string // the text of each call that started
	ended   chan error  // its context's error, nil if released
	release chan struct{}
}

func newBlockingServer(t *testing.T, opts ...rpc.HandlerOption) *blockingServer {
	t.Helper()
	b := &blockingServer{started: make(chan string, 500), ended: make(chan error, 500), release: make(chan struct{})}
	srv := socketio.NewServer(&socketio.Options{Engine: engineio.Options{MaxHTTPBufferSize: 64 << 10}})
	h := rpc.NewUnaryHandler(echoEvent, func(ctx context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageRequest, error) {
		b.started <- req.GetText()
		switch req.GetText() {
		case "big":
			return &chatv1.SendMessageRequest{Text: strings.Repeat("x", 100<<10)}, nil
		case "panic":
			panic("secret panic value")
		case "quick":
			return req, nil
		}
		select {
		case <-ctx.Done():
			b.ended <- ctx.Err()
			return nil, ctx.Err()
		case <-b.release:
			b.ended <- nil
			return req, nil
		}
	}, opts...)
	if err := rpc.Register(srv.Of("/"), h); err != nil {
		t.Fatal(err)
	}
	b.srv = srv
	b.url = siotest.Serve(t, srv, srv).URL
	return b
}

func (b *blockingServer) dial(t *testing.T) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, b.url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

// rawCall emits a call as any Socket.IO client could, with meta, and
// returns a channel with the ack's status code ("" on success).
func rawCall(t *testing.T, s *sioclient.Socket, text, meta string) <-chan string {
	t.Helper()
	req, _ := proto.Marshal(&chatv1.SendMessageRequest{Text: text})
	out := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args, err := s.EmitWithAck(ctx, echoEvent, req, json.RawMessage(meta))
		if err != nil {
			out <- "transport: " + err.Error()
			return
		}
		if _, ok := args.Bytes(0); ok {
			out <- ""
			return
		}
		var status struct{ Code string }
		_ = args.Decode(0, &status)
		out <- status.Code
	}()
	return out
}

func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10s", what)
		panic("unreachable")
	}
}

// TestCancelEndsTheHandler: a cancel naming the call's id ends its
// handler's context, with the reason the caller gave.
func TestCancelEndsTheHandler(t *testing.T) {
	b := newBlockingServer(t)
	s := b.dial(t)
	for _, tc := range []struct{ reason, want string }{{"canceled", "context canceled"}, {"deadline_exceeded", "context deadline exceeded"}} {
		reply := rawCall(t, s, "wait", `{"timeoutMs":30000,"id":"c-`+tc.reason+`"}`)
		recv(t, "start", b.started)
		if err := s.Emit(rpc.CancelEvent, "c-"+tc.reason, tc.reason); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, "end", b.ended); err == nil || err.Error() != tc.want {
			t.Errorf("reason %s: the handler's context ended with %v, want %s", tc.reason, err, tc.want)
		}
		recv(t, "reply", reply)
	}
}

// TestCallsPerSocketAreBounded: past the limit a call is refused at once,
// other sockets are unaffected, and a freed slot takes calls again.
func TestCallsPerSocketAreBounded(t *testing.T) {
	b := newBlockingServer(t, rpc.WithMaxCallsPerSocket(3))
	s := b.dial(t)
	var replies []<-chan string
	for range 3 {
		replies = append(replies, rawCall(t, s, "wait", `{"timeoutMs":30000}`))
		recv(t, "start", b.started)
	}
	if code := recv(t, "fourth call", rawCall(t, s, "quick", `{}`)); code != "resource_exhausted" {
		t.Fatalf("a fourth call in flight: %q, want resource_exhausted", code)
	}
	if code := recv(t, "another socket", rawCall(t, b.dial(t), "quick", `{}`)); code != "" {
		t.Fatalf("another socket's call: %q", code)
	}
	recv(t, "start", b.started)
	close(b.release)
	for _, r := range replies {
		if code := recv(t, "released", r); code != "" {
			t.Fatalf("released call: %q", code)
		}
	}
	if code := recv(t, "after", rawCall(t, s, "quick", `{}`)); code != "" {
		t.Fatalf("a call once the others ended: %q", code)
	}
}

// TestPanicIsLoggedNotLeaked: a panicking handler is logged with its
// method, socket and stack; the caller sees internal without the value.
func TestPanicIsLoggedNotLeaked(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	b := newBlockingServer(t, rpc.WithLogger(logger))
	s := b.dial(t)
	req, _ := proto.Marshal(&chatv1.SendMessageRequest{Text: "panic"})
	args, err := s.EmitWithAck(t.Context(), echoEvent, req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(args.String(), "secret") || !strings.Contains(args.String(), "internal") {
		t.Fatalf("the caller got %s", args)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"handler panicked", "method=" + echoEvent, "socket=" + s.ID(), "secret panic value", "stack="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestResponseOverTheLimit: a response bigger than the server's
// MaxHTTPBufferSize fails that call with resource_exhausted and keeps the
// connection.
func TestResponseOverTheLimit(t *testing.T) {
	b := newBlockingServer(t, rpc.WithLogger(slog.New(slog.DiscardHandler)))
	s := b.dial(t)
	if code := recv(t, "big", rawCall(t, s, "big", `{}`)); code != "resource_exhausted" {
		t.Fatalf("a 100 KiB response over a 64 KiB limit: %q", code)
	}
	if code := recv(t, "after", rawCall(t, s, "quick", `{}`)); code != "" || !s.Connected() {
		t.Fatalf("the next call: %q, connected %v", code, s.Connected())
	}
}

// TestRegisterTwiceFails: the second registration of an event is an
// error naming it, and the first keeps serving.
func TestRegisterTwiceFails(t *testing.T) {
	srv := socketio.NewServer(nil)
	defer srv.Close(t.Context())
	echo := func(_ context.Context, r *chatv1.SendMessageRequest) (*chatv1.SendMessageRequest, error) {
		return r, nil
	}
	if err := rpc.Register(srv.Of("/"), rpc.NewUnaryHandler(echoEvent, echo)); err != nil {
		t.Fatal(err)
	}
	err := rpc.Register(srv.Of("/"), rpc.NewUnaryHandler(echoEvent, echo))
	if err == nil || !strings.Contains(err.Error(), echoEvent) {
		t.Fatalf("second Register: %v", err)
	}
	if err := rpc.Register(srv.Of("/other"), rpc.NewUnaryHandler(echoEvent, echo)); err != nil {
		t.Fatalf("the same event on another namespace: %v", err)
	}
}

// TestRefuseConnection: a middleware's refusal carries its code to the
// typed client, which fails its calls with it.
func TestRefuseConnection(t *testing.T) {
	srv := socketio.NewServer(nil)
	srv.Of("/").Use(func(*socketio.Socket) error {
		return rpc.RefuseConnection(rpc.CodePermissionDenied, "members only")
	})
	url := siotest.Serve(t, srv, srv).URL
	m, err := sioclient.NewManager(url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.Socket("/", nil)
	conn := rpc.NewClientConn(s)
	s.Connect()
	_, err = rpc.CallUnary[*chatv1.SendMessageRequest](rpc.WithWaitForReady(ctxTimeout(t, 5*time.Second)), conn, echoEvent, &chatv1.SendMessageRequest{})
	if rpc.CodeOf(err) != rpc.CodePermissionDenied || !strings.Contains(err.Error(), "members only") {
		t.Fatalf("call on a refused namespace: %v", err)
	}
}

// TestShutdownDrainsCalls: during Shutdown a new call is unavailable, a
// running one finishes and its caller gets the answer; a handler still
// running when Shutdown's context ends is cancelled.
func TestShutdownDrainsCalls(t *testing.T) {
	b := newBlockingServer(t)
	s := b.dial(t)
	running := rawCall(t, s, "wait", `{"timeoutMs":30000}`)
	recv(t, "start", b.started)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- b.srv.Shutdown(ctx)
	}()
	// Shutdown is waiting for the running call: new calls are refused.
	var code string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if code = recv(t, "new call", rawCall(t, s, "quick", `{}`)); code == "unavailable" {
			break
		}
		recv(t, "start", b.started)
	}
	if code != "unavailable" {
		t.Fatalf("a call during shutdown: %q, want unavailable", code)
	}
	close(b.release)
	if code := recv(t, "running call", running); code != "" {
		t.Fatalf("the running call: %q, want its response", code)
	}
	if err := recv(t, "shutdown", shut); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	// A handler that outlives Shutdown's context is cancelled.
	b2 := newBlockingServer(t)
	s2 := b2.dial(t)
	stuck := rawCall(t, s2, "wait", `{"timeoutMs":30000}`)
	recv(t, "start", b2.started)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = b2.srv.Shutdown(ctx)
	if err := recv(t, "end", b2.ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("the handler's context ended with %v, want canceled", err)
	}
	recv(t, "stuck call", stuck)
}
