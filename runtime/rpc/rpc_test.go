package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// Call workers outlive their calls by design and exit after a short idle
// time (tested in runtime/internal/workers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/sio-dev/sio/runtime/internal/workers.(*Pool).serve"))
}

// chatServer implements the example service for the tests.
type chatServer struct {
	chatv1sio.UnimplementedChatServiceServer
	srv     *socketio.Server
	nextID  atomic.Uint64
	slowEnd chan error // the context error a slow handler saw
}

func (c *chatServer) Join(ctx context.Context, req *chatv1.JoinRequest) (*chatv1.JoinResponse, error) {
	ci, _ := rpc.CallInfoFromContext(ctx)
	if req.GetUser() == "confirm-me" {
		// Ask the caller, which implements ChatClientService, before answering.
		res, err := chatv1sio.NewChatClientServiceCaller(ci.Socket).Confirm(ctx, &chatv1.ConfirmRequest{
			Question: "may " + req.GetUser() + " join " + req.GetRoom() + "?",
		})
		if err != nil {
			return nil, err
		}
		if res.GetConfirmed() {
			return &chatv1.JoinResponse{Members: []string{"confirmed"}}, nil
		}
		return &chatv1.JoinResponse{Members: []string{"refused"}}, nil
	}
	if req.GetRoom() == "" {
		e := rpc.Errorf(rpc.CodeInvalidArgument, "room is required")
		_ = e.AddDetail(&chatv1.JoinRequest{User: req.GetUser()})
		return nil, e
	}
	return &chatv1.JoinResponse{Members: []string{req.GetUser(), ci.Header["x-tag"]}}, nil
}

func (c *chatServer) SendMessage(ctx context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	switch req.GetText() {
	case "slow":
		<-ctx.Done()
		c.slowEnd <- ctx.Err()
		return nil, ctx.Err()
	case "panic":
		panic("handler bug")
	}
	id := c.nextID.Add(1)
	err := chatv1sio.PublishChatServiceWatchRoom(c.srv, req.GetRoom(), &chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{
		Id: id, Room: req.GetRoom(), User: req.GetUser(), Text: req.GetText(),
	}})
	if err == nil && req.GetText() == "end" {
		err = chatv1sio.EndChatServiceWatchRoom(c.srv, req.GetRoom(), nil)
	}
	return &chatv1.SendMessageResponse{Id: id}, err
}

func (c *chatServer) WatchRoom(ctx context.Context, req *chatv1.WatchRoomRequest) (string, error) {
	switch req.GetRoom() {
	case "forbidden":
		return "", rpc.Errorf(rpc.CodePermissionDenied, "not your room")
	case "private":
		room := rpc.PrivateRoom(ctx, "inbox")
		// Whatever is published to the private room reaches this caller only.
		go func() {
			ci, _ := rpc.CallInfoFromContext(ctx)
			time.Sleep(50 * time.Millisecond)
			_ = chatv1sio.PublishChatServiceWatchRoom(c.srv, room, &chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Text: "for " + ci.Socket.ID()}})
		}()
		return room, nil
	}
	return req.GetRoom(), nil
}

type fixture struct {
	srv  *socketio.Server
	chat *chatServer
	url  string
}

func newFixture(t testing.TB, opts ...rpc.HandlerOption) *fixture {
	t.Helper()
	srv := socketio.NewServer(nil)
	chat := &chatServer{srv: srv, slowEnd: make(chan error, 1)}
	if err := chatv1sio.RegisterChatServiceServer(srv, chat, opts...); err != nil {
		t.Fatal(err)
	}
	hs := siotest.Serve(t, srv, srv)
	return &fixture{srv: srv, chat: chat, url: hs.URL}
}

func (f *fixture) dial(t testing.TB, auth any) *sioclient.Socket {
	t.Helper()
	return dialSocket(t, f.url+chatv1sio.ChatServiceNamespace, &sioclient.SocketOptions{Auth: auth})
}

// dialSocket connects a socket to url (its path is the namespace) over
// WebSocket, and closes it when the test ends.
func dialSocket(t testing.TB, url string, sopts *sioclient.SocketOptions) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

func (f *fixture) client(t *testing.T) *chatv1sio.ChatServiceClient {
	return chatv1sio.NewChatServiceClient(rpc.NewClientConn(f.dial(t, nil)))
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestUnaryCallsAndErrors(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := rpc.WithHeaders(ctxTimeout(t, 5*time.Second), map[string]string{"x-tag": "t1"})
	res, err := c.Join(ctx, &chatv1.JoinRequest{Room: "lobby", User: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.GetMembers(), []string{"ann", "t1"}) {
		t.Errorf("members %v (the header must reach the handler)", res.GetMembers())
	}
	_, err = c.Join(ctx, &chatv1.JoinRequest{User: "bob"})
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code() != rpc.CodeInvalidArgument || re.Message() != "room is required" || rpc.CodeOf(err) != rpc.CodeInvalidArgument {
		t.Fatalf("error %v", err)
	}
	if len(re.Details()) != 1 || re.Details()[0].Type() != "example.chat.v1.JoinRequest" {
		t.Fatalf("details %v", re.Details())
	}
	d, err := re.Details()[0].Value()
	if err != nil || d.(*chatv1.JoinRequest).GetUser() != "bob" {
		t.Errorf("detail value %v, %v", d, err)
	}
	// An empty request and response still travel.
	if _, err := c.Join(ctx, &chatv1.JoinRequest{}); rpc.CodeOf(err) != rpc.CodeInvalidArgument {
		t.Errorf("empty request: %v", err)
	}
}

func TestDeadlineTravelsToTheServer(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	start := time.Now()
	_, err := c.SendMessage(ctxTimeout(t, 150*time.Millisecond), &chatv1.SendMessageRequest{Text: "slow"})
	if rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
		t.Fatalf("client error %v", err)
	}
	select {
	case serverErr := <-f.chat.slowEnd:
		if !errors.Is(serverErr, context.DeadlineExceeded) {
			t.Errorf("the handler's context ended with %v", serverErr)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the handler's context never ended")
	}
	if time.Since(start) > 2*time.Second {
		t.Error("deadline took far too long")
	}
	// Callers other than ours may send a fraction of a millisecond: the
	// handler's context still ends, with the deadline. No time at all is
	// answered without running the handler.
	s := f.dial(t, nil)
	req, _ := proto.Marshal(&chatv1.SendMessageRequest{Text: "slow"})
	reply, err := s.EmitWithAck(ctxTimeout(t, 5*time.Second), chatv1sio.ChatServiceSendMessageEvent, req, json.RawMessage(`{"timeoutMs":0}`))
	var status struct{ Code string }
	if err != nil || reply.Decode(0, &status) != nil || status.Code != "deadline_exceeded" {
		t.Errorf("timeoutMs 0: reply %s %v", reply, err)
	}
	for _, meta := range []string{`{"timeoutMs":20.5}`} {
		reply, err := s.EmitWithAck(ctxTimeout(t, 5*time.Second), chatv1sio.ChatServiceSendMessageEvent, req, json.RawMessage(meta))
		var status struct{ Code string }
		if err != nil || reply.Decode(0, &status) != nil || status.Code != "deadline_exceeded" {
			t.Errorf("%s: reply %s %v", meta, reply, err)
		}
		select {
		case serverErr := <-f.chat.slowEnd:
			if !errors.Is(serverErr, context.DeadlineExceeded) {
				t.Errorf("%s: the handler's context ended with %v", meta, serverErr)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: the handler's context never ended", meta)
		}
	}
	// A cancelled context is canceled, not deadline_exceeded.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Join(ctx, &chatv1.JoinRequest{Room: "r"}); rpc.CodeOf(err) != rpc.CodeCanceled {
		t.Errorf("cancelled call: %v", err)
	}
}

func TestPanicAndUnimplemented(t *testing.T) {
	f := newFixture(t)
	s := f.dial(t, nil)
	c := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s))
	_, err := c.SendMessage(ctxTimeout(t, 5*time.Second), &chatv1.SendMessageRequest{Text: "panic"})
	if rpc.CodeOf(err) != rpc.CodeInternal {
		t.Errorf("panic gave %v", err)
	}
	// A method nobody registered answers unimplemented instead of hanging.
	_, err = rpc.CallUnary[*chatv1.JoinResponse](ctxTimeout(t, 5*time.Second), rpc.NewClientConn(s), "example.chat.v1.ChatService/Nope", &chatv1.JoinRequest{})
	if rpc.CodeOf(err) != rpc.CodeUnimplemented {
		t.Errorf("unknown method gave %v", err)
	}
	// A request that is not binary is invalid_argument.
	args, err := s.EmitWithAck(ctxTimeout(t, 5*time.Second), chatv1sio.ChatServiceJoinEvent, "not bytes")
	var status struct{ Code string }
	if err != nil || args.Decode(0, &status) != nil || status.Code != "invalid_argument" {
		t.Errorf("text request: %s %v", args, err)
	}
}

type partial struct {
	chatv1sio.UnimplementedChatServiceServer
}

type byPointer struct {
	*chatv1sio.UnimplementedChatServiceServer
}

func TestUnimplementedEmbedding(t *testing.T) {
	srv := socketio.NewServer(nil)
	defer srv.Close(context.Background())
	if err := chatv1sio.RegisterChatServiceServer(srv, byPointer{}); err == nil || !strings.Contains(err.Error(), "by value") {
		t.Errorf("embedding by pointer: %v", err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	if err := chatv1sio.RegisterChatServiceServer(srv, partial{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, url: hs.URL}
	_, err := f.client(t).Join(ctxTimeout(t, 5*time.Second), &chatv1.JoinRequest{Room: "r"})
	if rpc.CodeOf(err) != rpc.CodeUnimplemented || !strings.Contains(err.Error(), "ChatService.Join") {
		t.Errorf("unimplemented method: %v", err)
	}
}

func TestInterceptors(t *testing.T) {
	var mu sync.Mutex
	var order []string
	logging := func(name string) rpc.UnaryInterceptor {
		return func(next rpc.UnaryFunc) rpc.UnaryFunc {
			return func(ctx context.Context, req proto.Message) (proto.Message, error) {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}
	auth := func(next rpc.UnaryFunc) rpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := rpc.CallInfoFromContext(ctx)
			if !strings.Contains(string(ci.Socket.Handshake().Auth), "secret") {
				return nil, rpc.Errorf(rpc.CodeUnauthenticated, "who are you?")
			}
			return next(ctx, req)
		}
	}
	subAuth := func(next rpc.SubscribeFunc) rpc.SubscribeFunc {
		return func(ctx context.Context, req proto.Message) (string, error) {
			ci, _ := rpc.CallInfoFromContext(ctx)
			if ci.Event != chatv1sio.ChatServiceWatchRoomEvent {
				return "", rpc.Errorf(rpc.CodeInternal, "wrong event %q", ci.Event)
			}
			return next(ctx, req)
		}
	}
	f := newFixture(t, rpc.WithInterceptors(logging("outer"), auth, logging("inner")), rpc.WithSubscribeInterceptors(subAuth))
	anon := chatv1sio.NewChatServiceClient(rpc.NewClientConn(f.dial(t, nil)))
	if _, err := anon.Join(ctxTimeout(t, 5*time.Second), &chatv1.JoinRequest{Room: "r"}); rpc.CodeOf(err) != rpc.CodeUnauthenticated {
		t.Errorf("anonymous call: %v", err)
	}
	known := chatv1sio.NewChatServiceClient(rpc.NewClientConn(f.dial(t, map[string]string{"token": "secret"})))
	if _, err := known.Join(ctxTimeout(t, 5*time.Second), &chatv1.JoinRequest{Room: "r"}); err != nil {
		t.Errorf("authenticated call: %v", err)
	}
	st, err := known.WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"outer", "outer", "inner"}) {
		t.Errorf("interceptor order %v", order)
	}
}

func TestSubscriptionsFanOutAndEnd(t *testing.T) {
	f := newFixture(t)
	const subscribers, messages = 3, 50
	var streams []*rpc.Stream[*chatv1.WatchRoomResponse]
	for range subscribers {
		st, err := f.client(t).WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	other, err := f.client(t).WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(t).WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "forbidden"}); rpc.CodeOf(err) != rpc.CodePermissionDenied {
		t.Errorf("forbidden room: %v", err)
	}
	sender := f.client(t)
	for i := range messages {
		if _, err := sender.SendMessage(ctxTimeout(t, 5*time.Second), &chatv1.SendMessageRequest{Room: "r1", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := chatv1sio.EndChatServiceWatchRoom(f.srv, "r1", nil); err != nil {
		t.Fatal(err)
	}
	for n, st := range streams {
		i := 0
		for msg, err := range st.All() {
			if err != nil {
				t.Fatalf("subscriber %d: %v", n, err)
			}
			if msg.GetMessage().GetText() != fmt.Sprint(i) {
				t.Fatalf("subscriber %d: message %d is %q", n, i, msg.GetMessage().GetText())
			}
			i++
		}
		if i != messages {
			t.Errorf("subscriber %d got %d messages, want %d", n, i, messages)
		}
	}
	// The other room saw nothing; ending it with a status reaches its reader.
	if err := chatv1sio.EndChatServiceWatchRoom(f.srv, "r2", rpc.Errorf(rpc.CodeAborted, "room closed")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Recv(); rpc.CodeOf(err) != rpc.CodeAborted {
		t.Errorf("other stream ended with %v", err)
	}
	if n := len(f.srv.Of(chatv1sio.ChatServiceNamespace).Adapter().Sockets([]string{rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "r1")})); n != 0 {
		t.Errorf("%d sockets still in the ended room", n)
	}
}

func TestClosingAStreamLeavesTheRoom(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	st, err := c.WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	key := rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "r")
	adapter := f.srv.Of(chatv1sio.ChatServiceNamespace).Adapter()
	if n := len(adapter.Sockets([]string{key})); n != 1 {
		t.Fatalf("%d sockets in the room after subscribing", n)
	}
	st.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(adapter.Sockets([]string{key})) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the socket never left the room")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := st.Recv(); rpc.CodeOf(err) != rpc.CodeCanceled {
		t.Errorf("Recv after Close: %v", err)
	}
}

func TestServerCallsClient(t *testing.T) {
	f := newFixture(t)
	sockets := make(chan *socketio.Socket, 1)
	f.srv.Of(chatv1sio.ChatClientServiceNamespace).OnConnection(func(s *socketio.Socket) { sockets <- s })
	s := f.dial(t, nil)
	// The client side, by hand: a Go client has no generated handler.
	s.On(chatv1sio.ChatClientServiceConfirmEvent, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		b, _ := args.Bytes(0)
		req := &chatv1.ConfirmRequest{}
		_ = proto.Unmarshal(b, req)
		if req.GetQuestion() == "refuse" {
			_ = ack(map[string]string{"code": "aborted", "message": "user said no"})
			return
		}
		out, _ := proto.Marshal(&chatv1.ConfirmResponse{Confirmed: strings.HasSuffix(req.GetQuestion(), "?")})
		_ = ack(out)
	})
	caller := chatv1sio.NewChatClientServiceCaller(<-sockets)
	res, err := caller.Confirm(ctxTimeout(t, 5*time.Second), &chatv1.ConfirmRequest{Question: "delete?"})
	if err != nil || !res.GetConfirmed() {
		t.Fatalf("Confirm = %v, %v", res, err)
	}
	if _, err := caller.Confirm(ctxTimeout(t, 5*time.Second), &chatv1.ConfirmRequest{Question: "refuse"}); rpc.CodeOf(err) != rpc.CodeAborted {
		t.Errorf("refusal: %v", err)
	}
	s.Off(chatv1sio.ChatClientServiceConfirmEvent)
	if _, err := caller.Confirm(ctxTimeout(t, 100*time.Millisecond), &chatv1.ConfirmRequest{}); rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
		t.Errorf("unanswered: %v", err)
	}
}

func TestStreamEndsOnDisconnect(t *testing.T) {
	f := newFixture(t)
	s := f.dial(t, nil)
	st, err := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)).WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Of(chatv1sio.ChatServiceNamespace).DisconnectSockets(false)
	if _, err := st.Recv(); rpc.CodeOf(err) != rpc.CodeUnavailable {
		t.Errorf("Recv after disconnect: %v", err)
	}
}

// TestGeneratedTypeScriptClient drives the server with the generated
// TypeScript client on the npm socket.io-client.
func TestGeneratedTypeScriptClient(t *testing.T) {
	nodepeer.Require(t)
	for _, sc := range []string{"unary", "deadline", "abort", "stream", "unsubscribe", "forbidden", "serverCallsClient"} {
		t.Run(sc, func(t *testing.T) {
			f := newFixture(t)
			nodepeer.RunTS(t, 30*time.Second, "rpc_client.ts", f.url, sc)
			switch sc {
			case "deadline":
				select {
				case err := <-f.chat.slowEnd:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("the handler's context ended with %v, want its deadline", err)
					}
				case <-time.After(2 * time.Second):
					t.Error("the handler's context did not end at the client's deadline")
				}
			case "abort":
				<-f.chat.slowEnd // the handler ends when the socket goes
			case "unsubscribe":
				key := rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, "leave-room")
				if n := len(f.srv.Of(chatv1sio.ChatServiceNamespace).Adapter().Sockets([]string{key})); n != 0 {
					t.Errorf("%d sockets still subscribed after the TS client broke out", n)
				}
			}
		})
	}
}

// BenchmarkUnaryRoundTrip compares a typed unary call with the same
// exchange as a raw Socket.IO event and ack, over one WebSocket, so the
// cost of the RPC layer shows as the ratio of the two.
func BenchmarkUnaryRoundTrip(b *testing.B) {
	srv := socketio.NewServer(nil)
	chat := &chatServer{srv: srv}
	if err := chatv1sio.RegisterChatServiceServer(srv, chat); err != nil {
		b.Fatal(err)
	}
	srv.Of(chatv1sio.ChatServiceNamespace).OnConnection(func(s *socketio.Socket) {
		s.On("raw-join", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			data, _ := args.Bytes(0)
			req := &chatv1.JoinRequest{}
			_ = proto.Unmarshal(data, req)
			out, _ := proto.Marshal(&chatv1.JoinResponse{Members: []string{req.GetUser(), ""}})
			_ = ack(out)
		})
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sioclient.Connect(ctx, hs.URL+chatv1sio.ChatServiceNamespace, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Manager().Close()
	client := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s))
	req := &chatv1.JoinRequest{Room: "lobby", User: "ann"}

	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Join(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := proto.Marshal(req)
			args, err := s.EmitWithAck(ctx, "raw-join", data)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := args.Bytes(0)
			res := &chatv1.JoinResponse{}
			if err := proto.Unmarshal(out, res); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestPrivateStreams(t *testing.T) {
	f := newFixture(t)
	var streams []*rpc.Stream[*chatv1.WatchRoomResponse]
	var ids []string
	for range 2 {
		s := f.dial(t, nil)
		ids = append(ids, s.ID())
		st, err := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)).WatchRoom(ctxTimeout(t, 5*time.Second), &chatv1.WatchRoomRequest{Room: "private"})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	for i, st := range streams {
		msg, err := st.Recv()
		if err != nil || msg.GetMessage().GetText() != "for "+ids[i] {
			t.Errorf("stream %d got %v, %v", i, msg, err)
		}
		st.Close()
	}
}

// TestStreamSurvivesReconnects: a room subscription outlives a lost
// connection. With connection state recovery the messages published
// while the client was away arrive, none lost and no gap; without it the
// client subscribes again and Recv reports ErrGap once.
func TestStreamSurvivesReconnects(t *testing.T) {
	for _, recovery := range []bool{true, false} {
		t.Run(fmt.Sprintf("recovery=%v", recovery), func(t *testing.T) {
			opts := &socketio.Options{}
			if recovery {
				opts.ConnectionStateRecovery = &socketio.RecoveryOptions{}
			}
			srv := socketio.NewServer(opts)
			chat := &chatServer{srv: srv, slowEnd: make(chan error, 1)}
			if err := chatv1sio.RegisterChatServiceServer(srv, chat); err != nil {
				t.Fatal(err)
			}
			url := siotest.Serve(t, srv, srv).URL
			ctx := ctxTimeout(t, 10*time.Second)
			s, err := sioclient.Connect(ctx, url+chatv1sio.ChatServiceNamespace, &sioclient.Options{
				Transports: []string{engineio.TransportWebSocket}, ReconnectionDelay: 300 * time.Millisecond, ReconnectionDelayMax: 300 * time.Millisecond,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Manager().Close()
			st, err := chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)).WatchRoom(ctx, &chatv1.WatchRoomRequest{Room: "r"})
			if err != nil {
				t.Fatal(err)
			}
			publish := func(text string) {
				t.Helper()
				if err := chatv1sio.PublishChatServiceWatchRoom(srv, "r", &chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Text: text}}); err != nil {
					t.Fatal(err)
				}
			}
			next := func() (string, error) {
				t.Helper()
				m, err := st.Receive(ctxTimeout(t, 5*time.Second))
				return m.GetMessage().GetText(), err
			}
			publish("before")
			if text, err := next(); err != nil || text != "before" {
				t.Fatalf("first message: %q, %v", text, err)
			}
			reconnected := make(chan struct{}, 1)
			s.OnConnect(func(*sioclient.Socket) { reconnected <- struct{}{} })
			for _, sock := range srv.Of(chatv1sio.ChatServiceNamespace).Sockets() {
				sock.Conn().Close()
			}
			time.Sleep(50 * time.Millisecond) // the client is away for 300 ms
			publish("away-1")
			publish("away-2")
			recv(t, "reconnection", reconnected)
			if s.Recovered() != recovery {
				t.Fatalf("Recovered() = %v", s.Recovered())
			}
			if recovery {
				for _, want := range []string{"away-1", "away-2"} {
					if text, err := next(); err != nil || text != want {
						t.Fatalf("after the recovery: %q, %v; want %q", text, err, want)
					}
				}
			} else if _, err := next(); !errors.Is(err, rpc.ErrGap) {
				t.Fatalf("after a reconnection without the session: %v, want ErrGap", err)
			}
			// The subscription goes on (subscribed again without recovery:
			// publish until the new subscription is in place).
			deadline := time.Now().Add(5 * time.Second)
			for {
				publish("after")
				text, err := st.Receive(ctxTimeout(t, 200*time.Millisecond))
				if err == nil && text.GetMessage().GetText() == "after" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no message after the reconnection: %v", err)
				}
			}
		})
	}
}
