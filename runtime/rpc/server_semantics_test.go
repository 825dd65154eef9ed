package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
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
	return dialSocket(t, b.url, nil)
}

// rawCall emits a call as any Socket.IO client could, with meta, and
// returns a channel with the ack's status code ("" on success).
func rawCall(t *testing.T, s *sioclient.Socket, text, meta string) <-chan string {
	t.Helper()
	req, _ := proto.Marshal(&chatv1.SendMessageRequest{Text: text})
	out := make(chan string, 1)
	// Emitted before rawCall returns, so calls made one after the other
	// reach the server in that order.
	err := s.EmitWithAckFunc(echoEvent, 10*time.Second, func(args socketio.Args, err error) {
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
	}, req, json.RawMessage(meta))
	if err != nil {
		out <- "emit: " + err.Error()
	}
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

// TestBlockedCallHoldsNoOtherBack: calls a socket sends while one of its
// calls blocks are answered while it still blocks, both those sent right
// after it (which may wait behind it for a moment) and those sent later.
func TestBlockedCallHoldsNoOtherBack(t *testing.T) {
	b := newBlockingServer(t)
	s := b.dial(t)
	blocked := rawCall(t, s, "wait", `{"timeoutMs":30000}`)
	var quick []<-chan string
	for range 8 {
		quick = append(quick, rawCall(t, s, "quick", `{}`))
	}
	for i, r := range quick {
		if code := recv(t, "a call sent after the blocked one", r); code != "" {
			t.Fatalf("call %d: %q", i, code)
		}
	}
	recv(t, "start", b.started)
	if code := recv(t, "a call sent later", rawCall(t, s, "quick", `{}`)); code != "" {
		t.Fatalf("a later call: %q", code)
	}
	select {
	case code := <-blocked:
		t.Fatalf("the blocked call was answered (%q) before its release", code)
	default:
	}
	close(b.release)
	if code := recv(t, "the released call", blocked); code != "" {
		t.Fatalf("the released call: %q", code)
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

// TestWorkersAreBounded: with every worker busy, calls wait in a queue of
// four per worker; beyond it a call is refused at once with
// resource_exhausted, and the queued ones run once a worker is free.
func TestWorkersAreBounded(t *testing.T) {
	b := newBlockingServer(t, rpc.WithWorkers(1))
	s := b.dial(t)
	running := rawCall(t, s, "wait", `{"timeoutMs":30000}`)
	recv(t, "start", b.started)
	var queued []<-chan string
	for range 4 {
		queued = append(queued, rawCall(t, s, "quick", `{"timeoutMs":30000}`))
	}
	// The queued calls have reached the server once a fifth one, sent
	// after them on the same connection, is answered.
	if code := recv(t, "a call past the queue", rawCall(t, s, "quick", `{}`)); code != "resource_exhausted" {
		t.Fatalf("a call with the worker busy and the queue full: %q, want resource_exhausted", code)
	}
	select {
	case text := <-b.started:
		t.Fatalf("call %q started while the only worker was busy", text)
	default:
	}
	close(b.release)
	if code := recv(t, "running", running); code != "" {
		t.Fatalf("the running call: %q", code)
	}
	for _, r := range queued {
		if code := recv(t, "queued", r); code != "" {
			t.Fatalf("a queued call: %q, want its response", code)
		}
	}
}

// TestDuplicateCallIDIsRefused: a call reusing the id of one in flight on
// the same socket (which a cancel could not tell apart) is refused with
// invalid_argument, and the first is unaffected.
func TestDuplicateCallIDIsRefused(t *testing.T) {
	b := newBlockingServer(t)
	s := b.dial(t)
	first := rawCall(t, s, "wait", `{"timeoutMs":30000,"id":"same"}`)
	recv(t, "start", b.started)
	if code := recv(t, "duplicate", rawCall(t, s, "quick", `{"timeoutMs":30000,"id":"same"}`)); code != "invalid_argument" {
		t.Fatalf("a second call with an id in flight: %q, want invalid_argument", code)
	}
	close(b.release)
	if code := recv(t, "first", first); code != "" {
		t.Fatalf("the first call: %q", code)
	}
	if code := recv(t, "reuse", rawCall(t, s, "quick", `{"timeoutMs":30000,"id":"same"}`)); code != "" {
		t.Fatalf("reusing the id once the first call ended: %q", code)
	}
}

// TestRegisterOnADynamicNamespace: services registered once on a dynamic
// namespace serve the namespaces it creates, with cancels and unknown
// methods answered there too.
func TestRegisterOnADynamicNamespace(t *testing.T) {
	srv := socketio.NewServer(nil)
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	h := rpc.NewUnaryHandler(echoEvent, func(ctx context.Context, r *chatv1.SendMessageRequest) (*chatv1.SendMessageRequest, error) {
		if r.GetText() == "wait" {
			started <- struct{}{}
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		}
		return r, nil
	})
	if err := rpc.Register(srv.OfRegexp(regexp.MustCompile(`^/tenant-\d+$`)), h); err != nil {
		t.Fatal(err)
	}
	url := siotest.Serve(t, srv, srv).URL
	for _, nsp := range []string{"/tenant-1", "/tenant-2"} {
		ctx := ctxTimeout(t, 5*time.Second)
		s, err := sioclient.Connect(ctx, url+nsp, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Manager().Close()
		conn := rpc.NewClientConn(s)
		res, err := rpc.CallUnary[*chatv1.SendMessageRequest](ctx, conn, echoEvent, &chatv1.SendMessageRequest{Text: nsp})
		if err != nil || res.GetText() != nsp {
			t.Fatalf("call on %s: %v, %v", nsp, res, err)
		}
		_, err = rpc.CallUnary[*chatv1.SendMessageRequest](ctx, conn, "test.v1.EchoService/Nope", &chatv1.SendMessageRequest{})
		if rpc.CodeOf(err) != rpc.CodeUnimplemented {
			t.Fatalf("unknown method on %s: %v", nsp, err)
		}
		// A call the caller gives up on is canceled on the server.
		short, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := rpc.CallUnary[*chatv1.SendMessageRequest](short, conn, echoEvent, &chatv1.SendMessageRequest{Text: "wait"})
			done <- err
		}()
		recv(t, "start", started)
		cancel()
		if err := recv(t, "canceled call", done); rpc.CodeOf(err) != rpc.CodeCanceled {
			t.Fatalf("canceled call on %s: %v", nsp, err)
		}
		if err := recv(t, "the handler's end", ended); !errors.Is(err, context.Canceled) {
			t.Fatalf("the handler on %s ended with %v, want canceled", nsp, err)
		}
	}
}
