package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

const (
	bidiEvent   = "test.v1.StreamService/Echo"
	clientEvent = "test.v1.StreamService/Count"
	serverEvent = "test.v1.StreamService/Repeat"
	stuckEvent  = "test.v1.StreamService/Stuck"
)

type req = chatv1.SendMessageRequest
type res = chatv1.SendMessageResponse

// streamServer serves the stream methods of the tests:
//
//	Echo (bidi): answers each request with its text's length as id, then,
//	  after the caller's last, ends with trailer "count".
//	Count (client stream): answers with the number of requests.
//	Repeat (per-call server stream): sends the request's text back as
//	  many times as its room field's length, the request's id in the end.
//	Stuck (bidi): reads nothing and reports its context's end.
type streamServer struct {
	url   string
	srv   *socketio.Server
	ended chan error // Stuck's context error
	sent  atomic.Int64
}

func newStreamServer(t *testing.T) *streamServer { return newStreamServerWith(t, nil) }

func newStreamServerWith(t *testing.T, opts *socketio.Options) *streamServer {
	t.Helper()
	ss := &streamServer{ended: make(chan error, 10)}
	srv := socketio.NewServer(opts)
	echo := rpc.NewBidiStreamHandler(bidiEvent, func(ctx context.Context, s *rpc.BidiStream[*req, *res]) error {
		n := 0
		for {
			r, err := s.Receive()
			if err == io.EOF {
				s.ResponseTrailer()["count"] = strings.Repeat("x", n)
				return nil
			}
			if err != nil {
				return err
			}
			n++
			if err := s.Send(&res{Id: uint64(len(r.GetText()))}); err != nil {
				return err
			}
		}
	})
	count := rpc.NewClientStreamHandler(clientEvent, func(ctx context.Context, s *rpc.ClientStream[*req]) (*res, error) {
		n := 0
		for s.Receive() {
			n++
		}
		if s.Err() != nil {
			return nil, s.Err()
		}
		if s.RequestHeader()["x-fail"] != "" {
			return nil, rpc.Errorf(rpc.CodeFailedPrecondition, "asked to fail after %d", n)
		}
		return &res{Id: uint64(n)}, nil
	})
	repeat := rpc.NewCallServerStreamHandler(serverEvent, func(ctx context.Context, r *req, s *rpc.ServerStream[*res]) error {
		for range len(r.GetRoom()) {
			if err := s.Send(&res{Id: uint64(len(r.GetText()))}); err != nil {
				return err
			}
			ss.sent.Add(1)
		}
		s.ResponseTrailer()["text"] = r.GetText()
		if r.GetUser() == "fail" {
			return rpc.Errorf(rpc.CodeAborted, "failed after sending")
		}
		return nil
	})
	stuck := rpc.NewBidiStreamHandler(stuckEvent, func(ctx context.Context, s *rpc.BidiStream[*req, *res]) error {
		<-ctx.Done()
		ss.ended <- ctx.Err()
		return ctx.Err()
	})
	if err := rpc.Register(srv.Of("/"), echo, count, repeat, stuck, rpc.NewUnaryHandler(echoEvent, func(_ context.Context, r *req) (*req, error) { return r, nil })); err != nil {
		t.Fatal(err)
	}
	ss.srv = srv
	ss.url = siotest.Serve(t, srv, srv).URL
	return ss
}

func (ss *streamServer) conn(t *testing.T) *rpc.ClientConn {
	t.Helper()
	return rpc.NewClientConn(dialSocket(t, ss.url, nil))
}

func TestBidiStream(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	ctx := ctxTimeout(t, 10*time.Second)
	call, err := rpc.CallBidiStream[*req, *res](ctx, conn, bidiEvent)
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved: each request is answered before the next is sent.
	for i := range 50 {
		if err := call.Send(&req{Text: strings.Repeat("a", i)}); err != nil {
			t.Fatal(err)
		}
		r, err := call.Receive()
		if err != nil || r.GetId() != uint64(i) {
			t.Fatalf("response %d: %v, %v", i, r, err)
		}
	}
	// Then many at once, more than fit in the window, read afterwards by
	// another goroutine: flow control lets both sides make progress.
	const many = 3000
	got := make(chan error, 1)
	go func() {
		for i := range many {
			r, err := call.Receive()
			if err != nil || r.GetId() != uint64(i%100) {
				got <- err
				return
			}
		}
		_, err := call.Receive()
		got <- err
	}()
	for i := range many {
		if err := call.Send(&req{Text: strings.Repeat("b", i%100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := call.CloseRequest(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != io.EOF {
		t.Fatalf("after the responses: %v, want io.EOF", err)
	}
	if tr := call.ResponseTrailer()["count"]; len(tr) != 50+many {
		t.Errorf("trailer count has %d, want %d", len(tr), 50+many)
	}
}

func TestClientStream(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	ctx := ctxTimeout(t, 10*time.Second)
	call, err := rpc.CallClientStream[*req, *res](ctx, conn, clientEvent)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if err := call.Send(&req{Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := call.CloseAndReceive()
	if err != nil || r.GetId() != 200 {
		t.Fatalf("CloseAndReceive: %v, %v; want 200", r, err)
	}
	// A handler's error is the call's status.
	failing, err := rpc.CallClientStream[*req, *res](rpc.WithHeaders(ctx, map[string]string{"x-fail": "1"}), conn, clientEvent)
	if err != nil {
		t.Fatal(err)
	}
	_ = failing.Send(&req{})
	if _, err := failing.CloseAndReceive(); rpc.CodeOf(err) != rpc.CodeFailedPrecondition || !strings.Contains(err.Error(), "after 1") {
		t.Fatalf("failing call: %v", err)
	}
}

func TestCallServerStream(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	ctx := ctxTimeout(t, 10*time.Second)
	call, err := rpc.CallServerStream[*res](ctx, conn, serverEvent, &req{Text: "abc", Room: strings.Repeat("r", 5000)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r, err := range call.All() {
		if err != nil {
			t.Fatal(err)
		}
		if r.GetId() != 3 {
			t.Fatalf("message %d: %v", n, r)
		}
		n++
	}
	if n != 5000 || call.ResponseTrailer()["text"] != "abc" {
		t.Fatalf("%d messages, trailers %v; want 5000 and text=abc", n, call.ResponseTrailer())
	}
	// Messages sent before a failure arrive, then the failure.
	failed, err := rpc.CallServerStream[*res](ctx, conn, serverEvent, &req{Text: "x", Room: "rr", User: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := failed.Receive(); err != nil {
			t.Fatalf("message %d before the failure: %v", i, err)
		}
	}
	if _, err := failed.Receive(); rpc.CodeOf(err) != rpc.CodeAborted {
		t.Fatalf("end: %v, want aborted", err)
	}
}

// TestStreamFlowControl: a reader that stops reading stops its sender,
// on both sides, within the window.
func TestStreamFlowControl(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	// The server sends faster than the client reads: it waits in Send.
	ctx := ctxTimeout(t, 10*time.Second)
	call, err := rpc.CallServerStream[*res](ctx, conn, serverEvent, &req{Text: "x", Room: strings.Repeat("r", 100000)})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the sender stops: its count holds still for 200 ms (on a
	// loaded machine filling the window may take longer than that).
	for last, deadline := int64(-1), time.Now().Add(5*time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		n := ss.sent.Load()
		if n == last {
			break
		}
		last = n
	}
	// A message costs its bytes (2 here) plus 32: the window holds 7710.
	window := rpc.DefaultStreamWindow/34 + 1
	t.Logf("the server sent %d messages before waiting (window %d)", ss.sent.Load(), window)
	if sent := ss.sent.Load(); sent > int64(window) || sent < int64(window)/2 {
		t.Fatalf("the server sent %d messages to a client that read none; the window holds %d", sent, window)
	}
	_ = call.Close()

	// The client sends to a handler that reads nothing: Send waits, and
	// gives up with the call's deadline.
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stuck, err := rpc.CallBidiStream[*req, *res](short, conn, stuckEvent)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for {
		if err := stuck.Send(&req{Text: strings.Repeat("y", 1000)}); err != nil {
			if rpc.CodeOf(err) != rpc.CodeDeadlineExceeded {
				t.Fatalf("Send into a full window: %v, want deadline_exceeded", err)
			}
			break
		}
		sent++
	}
	t.Logf("the client sent %d messages before waiting", sent)
	if max := rpc.DefaultStreamWindow/1034 + 1; sent > max || sent < max/2 {
		t.Fatalf("%d messages of 1000 bytes sent to a handler that read none; the window holds %d", sent, max)
	}
	if err := recv(t, "stuck handler", ss.ended); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the handler's context ended with %v, want the deadline", err)
	}
}

// TestStreamBeyondCreditFails: a peer that ignores flow control gets its
// stream failed with resource_exhausted; its other calls go on.
func TestStreamBeyondCreditFails(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	s := conn.Socket()
	ends := make(chan string, 1)
	s.On(rpc.CallEndEvent, func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var id string
		var status struct{ Code string }
		_ = args.Decode(0, &id)
		_ = args.Decode(1, &status)
		if id == "rogue" {
			ends <- status.Code
		}
	})
	ctx := ctxTimeout(t, 10*time.Second)
	ack, err := s.EmitWithAck(ctx, stuckEvent, nil, json.RawMessage(`{"id":"rogue","window":1000,"timeoutMs":10000}`))
	if err != nil {
		t.Fatal(err)
	}
	var open struct{ Window int64 }
	if err := ack.Decode(0, &open); err != nil || open.Window <= 0 {
		t.Fatalf("open: %s", ack)
	}
	chunk := make([]byte, 16<<10)
	for range int(open.Window/int64(len(chunk))) + 4 {
		if err := s.Emit(rpc.CallMessageEvent, "rogue", chunk); err != nil {
			t.Fatal(err)
		}
	}
	if code := recv(t, "end of the rogue stream", ends); code != "resource_exhausted" {
		t.Fatalf("a stream sent beyond its credit ended with %q, want resource_exhausted", code)
	}
	recv(t, "the handler's end", ss.ended)
	if _, err := rpc.CallUnary[*req](ctx, conn, echoEvent, &req{Text: "still"}); err != nil {
		t.Fatalf("a call on the same connection afterwards: %v", err)
	}
}

func TestStreamCancelAndDisconnect(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	ctx, cancel := context.WithCancel(context.Background())
	call, err := rpc.CallBidiStream[*req, *res](ctx, conn, stuckEvent)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := recv(t, "canceled handler", ss.ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("the handler's context ended with %v, want canceled", err)
	}
	if _, err := call.Receive(); rpc.CodeOf(err) != rpc.CodeCanceled {
		t.Fatalf("Receive after cancel: %v", err)
	}

	open, err := rpc.CallBidiStream[*req, *res](ctxTimeout(t, 10*time.Second), conn, stuckEvent)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss.srv.Of("/").Sockets() {
		s.Conn().Close()
	}
	if _, err := open.Receive(); rpc.CodeOf(err) != rpc.CodeUnavailable {
		t.Fatalf("Receive after the connection dropped: %v, want unavailable", err)
	}
	recv(t, "disconnected handler", ss.ended)
}

// TestVersion1ClientOnAStreamMethod: a client that opens a stream method
// as a unary call is told which version it needs.
func TestVersion1ClientOnAStreamMethod(t *testing.T) {
	ss := newStreamServer(t)
	conn := ss.conn(t)
	b, _ := proto.Marshal(&req{})
	ack, err := conn.Socket().EmitWithAck(ctxTimeout(t, 5*time.Second), bidiEvent, b, json.RawMessage(`{"timeoutMs":1000,"id":"7"}`))
	if err != nil {
		t.Fatal(err)
	}
	var status struct{ Code, Message string }
	if err := ack.Decode(0, &status); err != nil || status.Code != "unimplemented" || !strings.Contains(status.Message, "version 2") {
		t.Fatalf("a version 1 call of a bidi method: %s", ack)
	}
}

// TestStreamInterceptors: a stream interceptor sees the method and the
// headers, and may refuse the stream before its handler runs.
func TestStreamInterceptors(t *testing.T) {
	var seen atomic.Value
	deny := func(next rpc.StreamFunc) rpc.StreamFunc {
		return func(ctx context.Context) error {
			ci, _ := rpc.CallInfoFromContext(ctx)
			seen.Store(ci.Event)
			if ci.Header["token"] != "ok" {
				return rpc.Errorf(rpc.CodeUnauthenticated, "no token")
			}
			return next(ctx)
		}
	}
	srv := socketio.NewServer(nil)
	h := rpc.NewClientStreamHandler(clientEvent, func(ctx context.Context, s *rpc.ClientStream[*req]) (*res, error) {
		n := 0
		for s.Receive() {
			n++
		}
		return &res{Id: uint64(n)}, s.Err()
	}, rpc.WithStreamInterceptors(deny))
	if err := rpc.Register(srv.Of("/"), h); err != nil {
		t.Fatal(err)
	}
	ss := &streamServer{srv: srv, url: siotest.Serve(t, srv, srv).URL}
	conn := ss.conn(t)
	ctx := ctxTimeout(t, 5*time.Second)
	refused, err := rpc.CallClientStream[*req, *res](ctx, conn, clientEvent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refused.CloseAndReceive(); rpc.CodeOf(err) != rpc.CodeUnauthenticated {
		t.Fatalf("a stream without the token: %v, want unauthenticated", err)
	}
	if seen.Load() != clientEvent {
		t.Errorf("the interceptor saw %v", seen.Load())
	}
	allowed, err := rpc.CallClientStream[*req, *res](rpc.WithHeaders(ctx, map[string]string{"token": "ok"}), conn, clientEvent)
	if err != nil {
		t.Fatal(err)
	}
	_ = allowed.Send(&req{})
	if r, err := allowed.CloseAndReceive(); err != nil || r.GetId() != 1 {
		t.Fatalf("a stream with the token: %v, %v", r, err)
	}
}

// BenchmarkStreams measures per-message cost of a bidirectional stream,
// in lockstep (one message each way, like a unary round trip, to compare
// with BenchmarkUnaryRoundTrip/typed) and pipelined (the sender ahead of
// the reader within the flow-control window), and the memory an open
// stream holds on both sides together.
func BenchmarkStreams(b *testing.B) {
	srv := socketio.NewServer(nil)
	echo := rpc.NewBidiStreamHandler(bidiEvent, func(ctx context.Context, s *rpc.BidiStream[*req, *res]) error {
		for {
			r, err := s.Receive()
			if err != nil {
				return nil
			}
			if err := s.Send(&res{Id: uint64(len(r.GetText()))}); err != nil {
				return err
			}
		}
	}, rpc.WithMaxCallsPerSocket(1000))
	if err := rpc.Register(srv.Of("/"), echo); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := sioclient.Connect(ctx, hs.URL, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Manager().Close()
	conn := rpc.NewClientConn(s)
	msg := &req{Text: "hello"}

	b.Run("bidi-lockstep", func(b *testing.B) {
		call, err := rpc.CallBidiStream[*req, *res](ctx, conn, bidiEvent)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := call.Send(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := call.Receive(); err != nil {
				b.Fatal(err)
			}
		}
		_ = call.CloseResponse()
	})
	b.Run("bidi-pipelined", func(b *testing.B) {
		call, err := rpc.CallBidiStream[*req, *res](ctx, conn, bidiEvent)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		n := b.N
		done := make(chan error, 1)
		go func() {
			for range n {
				if _, err := call.Receive(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		b.ResetTimer()
		for range n {
			if err := call.Send(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		_ = call.CloseResponse()
	})
	b.Run("open-stream-memory", func(b *testing.B) {
		const open = 500
		var before, after runtime.MemStats
		for b.Loop() {
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			calls := make([]*rpc.BidiStreamCall[*req, *res], open)
			for i := range calls {
				if calls[i], err = rpc.CallBidiStream[*req, *res](ctx, conn, bidiEvent); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond) // let the handlers start
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/open, "heap-B/stream")
			for _, c := range calls {
				_ = c.CloseResponse()
			}
		}
	})
}

// TestStreamsProperty opens bidirectional streams and, at random, sends,
// half-closes, cancels, and drops the connection under them, with several
// streams at once on one socket. Each stream's responses must be, in
// order and without repeats, a prefix of what it sent (all of it after a
// half-close), and it must end with the status its fate calls for.
// Bounded: 60 streams, about 10 s.
func TestStreamsProperty(t *testing.T) {
	t.Run("no recovery", func(t *testing.T) {
		ss := newStreamServer(t)
		streamsProperty(t, ss, ss.conn(t), func() {
			for _, s := range ss.srv.Of("/").Sockets() {
				s.Conn().Close()
			}
		}, false)
	})
	// With connection state recovery a drop changes nothing, whether the
	// server sees it or not: the streams resume and end as they would have.
	t.Run("recovery", func(t *testing.T) {
		ss := newStreamServerWith(t, &socketio.Options{ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 10 * time.Second}})
		s, proxy := reconnecting(t, ss.url, recoveryDelay)
		streamsProperty(t, ss, rpc.NewClientConn(s), cutOrStrand(proxy), true)
	})
}

// streamsProperty opens, sends on, half-closes, cancels and times out
// streams at random, drops the connection under them at random with drop,
// and checks what each stream delivered and how it ended; resumes says
// whether the streams outlive a drop.
func streamsProperty(t *testing.T, ss *streamServer, conn *rpc.ClientConn, drop func(), resumes bool) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	deadline := time.Now().Add(10 * time.Second)
	for round := 0; round < 12 && time.Now().Before(deadline); round++ {
		type outcome struct {
			fate     string
			unopened bool // the stream failed to open
			sent     int
			received []uint64
			err      error
		}
		results := make(chan outcome, 5)
		dropped := rng.IntN(4) == 0 // this round, the connection drops under the streams
		var wg sync.WaitGroup
		for range 5 {
			fate := []string{"close", "cancel", "close", "deadline"}[rng.IntN(4)]
			n := 1 + rng.IntN(150)
			wait := time.Duration(rng.IntN(20)) * time.Millisecond
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				if fate == "deadline" {
					ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
				}
				defer cancel()
				o := outcome{fate: fate}
				call, err := rpc.CallBidiStream[*req, *res](ctx, conn, bidiEvent)
				if err != nil {
					o.unopened, o.err = true, err
					results <- o
					return
				}
				recvDone := make(chan struct{})
				go func() {
					defer close(recvDone)
					for {
						r, err := call.Receive()
						if err != nil {
							o.err = err
							return
						}
						o.received = append(o.received, r.GetId())
					}
				}()
				for i := range n {
					if call.Send(&req{Text: strings.Repeat("a", i)}) != nil {
						break
					}
					o.sent++
				}
				time.Sleep(wait)
				switch fate {
				case "close":
					_ = call.CloseRequest()
				case "cancel":
					cancel()
				}
				<-recvDone
				results <- o
			})
		}
		if dropped {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			drop()
		}
		wg.Wait()
		close(results)
		for o := range results {
			for i, id := range o.received {
				if id != uint64(i) {
					t.Fatalf("round %d, %s: response %d is %d: not the prefix of what was sent (%v)", round, o.fate, i, id, o.received)
				}
			}
			if len(o.received) > o.sent {
				t.Fatalf("round %d, %s: %d responses to %d requests", round, o.fate, len(o.received), o.sent)
			}
			code := rpc.CodeOf(o.err)
			switch {
			case dropped && !resumes && code == rpc.CodeUnavailable:
				// The connection went under it.
			case dropped && o.unopened && code == rpc.CodeUnavailable:
				// The connection went while the stream was being opened
				// (or before): as for a unary call, the caller is told.
			case o.fate == "deadline" && o.unopened && code == rpc.CodeDeadlineExceeded:
				// Its 30 ms ran out before the stream was open (a loaded
				// machine): the deadline is what the caller is told.
			case o.unopened:
				t.Fatalf("round %d, %s (dropped %v): the stream did not open: %v", round, o.fate, dropped, o.err)
			case o.fate == "close" && o.err == io.EOF:
				if len(o.received) != o.sent {
					t.Fatalf("round %d: a half-closed stream ended cleanly with %d of %d responses", round, len(o.received), o.sent)
				}
			case o.fate == "cancel" && code == rpc.CodeCanceled:
			case o.fate == "deadline" && code == rpc.CodeDeadlineExceeded:
			default:
				t.Fatalf("round %d, %s (dropped %v): ended with %v", round, o.fate, dropped, o.err)
			}
		}
		// After a drop, the socket reconnects before the next round.
		for deadline := time.Now().Add(5 * time.Second); !conn.Socket().Connected(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the socket did not reconnect")
			}
		}
	}
}

// TestClientStreamInterceptors: a client interceptor adds a header to
// every stream it opens, and sees the opening's outcome.
func TestClientStreamInterceptors(t *testing.T) {
	ss := newStreamServer(t)
	base := ss.conn(t)
	var opened []string
	conn := rpc.NewClientConn(base.Socket(), rpc.WithClientStreamInterceptors(func(next rpc.StreamFunc) rpc.StreamFunc {
		return func(ctx context.Context) error {
			ci, _ := rpc.ClientCallInfoFromContext(ctx)
			err := next(rpc.WithHeaders(ctx, map[string]string{"x-fail": "yes"}))
			opened = append(opened, fmt.Sprint(ci.Event, " ", err))
			return err
		}
	}))
	call, err := rpc.CallClientStream[*req, *res](ctxTimeout(t, 5*time.Second), conn, clientEvent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call.CloseAndReceive(); rpc.CodeOf(err) != rpc.CodeFailedPrecondition {
		t.Fatalf("the header the interceptor added did not reach the handler: %v", err)
	}
	if len(opened) != 1 || opened[0] != clientEvent+" <nil>" {
		t.Fatalf("the interceptor saw %q", opened)
	}
}
