package rpc_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

const (
	seqEvent   = "test.v1.ResumeService/Seq"
	countEvent = "test.v1.ResumeService/CountTo"
)

// resumeServer serves, with connection state recovery:
//
//	Seq (bidi): answers request n (its text) with id n, and ends, after
//	  the caller's last, with trailer "received" = how many it received.
//	CountTo (per-call server stream): sends ids 0 to len(room)-1, one
//	  every millisecond, then ends with trailer "sent".
func resumeServer(t *testing.T, recovery *socketio.RecoveryOptions) (url string, handlersDone *atomic.Int64) {
	t.Helper()
	url, handlersDone, _ = resumeServerOf(t, recovery)
	return url, handlersDone
}

func resumeServerOf(t *testing.T, recovery *socketio.RecoveryOptions) (url string, handlersDone *atomic.Int64, srv *socketio.Server) {
	t.Helper()
	handlersDone = &atomic.Int64{}
	srv = socketio.NewServer(&socketio.Options{ConnectionStateRecovery: recovery})
	seq := rpc.NewBidiStreamHandler(seqEvent, func(ctx context.Context, s *rpc.BidiStream[*req, *res]) error {
		defer handlersDone.Add(1)
		n := 0
		for {
			r, err := s.Receive()
			if err == io.EOF {
				s.ResponseTrailer()["received"] = strconv.Itoa(n)
				return nil
			}
			if err != nil {
				return err
			}
			n++
			id, _ := strconv.ParseUint(r.GetText(), 10, 64)
			if err := s.Send(&res{Id: id}); err != nil {
				return err
			}
		}
	})
	count := rpc.NewCallServerStreamHandler(countEvent, func(ctx context.Context, r *req, s *rpc.ServerStream[*res]) error {
		defer handlersDone.Add(1)
		for i := range len(r.GetRoom()) {
			if err := s.Send(&res{Id: uint64(i)}); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		s.ResponseTrailer()["sent"] = strconv.Itoa(len(r.GetRoom()))
		return nil
	})
	if err := rpc.Register(srv.Of("/"), seq, count); err != nil {
		t.Fatal(err)
	}
	return siotest.Serve(t, srv, srv).URL, handlersDone, srv
}

// recoveryDelay is the reconnection delay of tests that want the session
// recovered: next to none. A client back before the server has seen its
// connection end (at once after a reset, or after a Strand, which the
// server would only notice at its ping timeout) still recovers: its claim
// ends the old socket, which keeps the session as on any loss.
const recoveryDelay = time.Millisecond

// cutOrStrand drops the connection under the client, in turn reset (the
// server sees it go) and stranded half-open (the server does not).
func cutOrStrand(proxy *siotest.Proxy) func() {
	var n atomic.Int64
	return func() {
		if n.Add(1)%2 == 1 {
			proxy.Cut()
		} else {
			proxy.Strand()
		}
	}
}

// reconnecting is a client through a proxy that the test can cut, which
// reconnects after delay.
func reconnecting(t *testing.T, url string, delay time.Duration) (*sioclient.Socket, *siotest.Proxy) {
	t.Helper()
	proxy := siotest.StartProxy(t, strings.TrimPrefix(url, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, "http://"+proxy.Addr(), &sioclient.Options{
		Transports: []string{engineio.TransportWebSocket}, ReconnectionDelay: delay, ReconnectionDelayMax: 5 * delay, RandomizationFactor: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s, proxy
}

// TestStreamsResumeAcrossReconnects: a bidi stream with messages both ways
// and a per-call server stream, their connection cut or left half-open
// several times while they flow, the client back at once; with the
// session recovered each side gets every message once, in order, and the
// streams end as they would have.
func TestStreamsResumeAcrossReconnects(t *testing.T) {
	url, _ := resumeServer(t, &socketio.RecoveryOptions{MaxDisconnectionDuration: 10 * time.Second})
	s, proxy := reconnecting(t, url, recoveryDelay)
	drop := cutOrStrand(proxy)
	conn := rpc.NewClientConn(s)
	ctx := ctxTimeout(t, 30*time.Second)

	bidi, err := rpc.CallBidiStream[*req, *res](ctx, conn, seqEvent)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := rpc.CallServerStream[*res](ctx, conn, countEvent, &req{Room: strings.Repeat("r", 1500)})
	if err != nil {
		t.Fatal(err)
	}
	const total = 3000
	received := make(chan []uint64, 2)
	collect := func(receive func() (*res, error)) {
		var ids []uint64
		for {
			r, err := receive()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("receive after %d: %v", len(ids), err)
				break
			}
			ids = append(ids, r.GetId())
		}
		received <- ids
	}
	go collect(bidi.Receive)
	go collect(counter.Receive)
	cuts := 0
	for i := range total {
		if i%700 == 350 {
			drop()
			cuts++
		}
		if err := bidi.Send(&req{Text: strconv.Itoa(i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // spread the sends over the cuts
		}
	}
	if err := bidi.CloseRequest(); err != nil {
		t.Fatal(err)
	}
	check := func(name string, ids []uint64, n int) {
		t.Helper()
		if len(ids) != n {
			t.Errorf("%s: %d messages, want %d", name, len(ids), n)
		}
		for i, id := range ids {
			if id != uint64(i) {
				t.Errorf("%s: message %d is %d: lost, repeated or reordered", name, i, id)
				break
			}
		}
	}
	for range 2 {
		ids := <-received
		if len(ids) > 0 && len(ids) <= 1500 && ids[len(ids)-1] < 1500 && len(ids) != total {
			check("CountTo", ids, 1500)
		} else {
			check("Seq", ids, total)
		}
	}
	if got := bidi.ResponseTrailer()["received"]; got != strconv.Itoa(total) {
		t.Errorf("the server received %s requests, want %d", got, total)
	}
	if got := counter.ResponseTrailer()["sent"]; got != "1500" {
		t.Errorf("CountTo's trailer %q", got)
	}
	if !s.Recovered() {
		t.Error("the last reconnection did not recover the session")
	}
	t.Logf("%d cuts", cuts)
}

// TestStreamsEndWhenTheSessionIsNotRecovered: without recovery a cut ends
// open streams with unavailable on the client, and their handlers too.
func TestStreamsEndWhenTheSessionIsNotRecovered(t *testing.T) {
	url, done := resumeServer(t, nil)
	s, proxy := reconnecting(t, url, 10*time.Millisecond)
	conn := rpc.NewClientConn(s)
	ctx := ctxTimeout(t, 20*time.Second)
	bidi, err := rpc.CallBidiStream[*req, *res](ctx, conn, seqEvent)
	if err != nil {
		t.Fatal(err)
	}
	if err := bidi.Send(&req{Text: "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bidi.Receive(); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if _, err := bidi.Receive(); rpc.CodeOf(err) != rpc.CodeUnavailable {
		t.Fatalf("after a cut without recovery: %v, want unavailable", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for done.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the handler still runs after its socket left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnclaimedStreamsEnd: a stream the client gave up on while
// disconnected is not claimed after the recovery, and its handler ends.
func TestUnclaimedStreamsEnd(t *testing.T) {
	url, done := resumeServer(t, &socketio.RecoveryOptions{MaxDisconnectionDuration: 10 * time.Second})
	s, proxy := reconnecting(t, url, 500*time.Millisecond)
	conn := rpc.NewClientConn(s)
	kept, err := rpc.CallBidiStream[*req, *res](ctxTimeout(t, 20*time.Second), conn, seqEvent)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dropped, err := rpc.CallBidiStream[*req, *res](ctx, conn, seqEvent)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*rpc.BidiStreamCall[*req, *res]{kept, dropped} {
		if err := st.Send(&req{Text: "1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Receive(); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Cut()
	for s.Connected() {
		time.Sleep(time.Millisecond)
	}
	cancel() // while disconnected: the server is not told
	deadline := time.Now().Add(10 * time.Second)
	for done.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers ended; want the one of the stream given up on", done.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := done.Load(); n != 1 {
		t.Fatalf("%d handlers ended; want only the one of the stream given up on", n)
	}
	// The one kept goes on.
	if err := kept.Send(&req{Text: "2"}); err != nil {
		t.Fatal(err)
	}
	if r, err := kept.Receive(); err != nil || r.GetId() != 2 {
		t.Fatalf("the kept stream after the recovery: %v, %v", r, err)
	}
	if !s.Recovered() {
		t.Error("the session was not recovered")
	}
}

// TestShutdownEndsParkedStreams: a draining server does not wait for the
// streams of a client that dropped (they cannot finish without it).
func TestShutdownEndsParkedStreams(t *testing.T) {
	url, done, srv := resumeServerOf(t, &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute})
	s, proxy := reconnecting(t, url, time.Hour) // it does not come back
	// The stream's own deadline is past the shutdown's: only the fix ends it in time.
	bidi, err := rpc.CallBidiStream[*req, *res](ctxTimeout(t, time.Minute), rpc.NewClientConn(s), seqEvent)
	if err != nil {
		t.Fatal(err)
	}
	if err := bidi.Send(&req{Text: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bidi.Receive(); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	for len(srv.Of("/").Sockets()) > 0 {
		time.Sleep(5 * time.Millisecond) // the server has seen the drop: the stream is parked
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Shutdown: %v, %v: it waited for a parked stream", err, ctx.Err())
	}
	if done.Load() != 1 {
		t.Errorf("%d handlers ended by the shutdown, want the parked stream's", done.Load())
	}
}
