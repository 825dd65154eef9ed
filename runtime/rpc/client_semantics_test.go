package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// These tests run the example ledger as a separate process, so that it can
// be killed, paused and restarted under a client, and ask it afterwards
// (ListTransfers) what it really ran.

func startLedger(t *testing.T, args ...string) *siotest.Process {
	t.Helper()
	return siotest.StartProcess(t, siotest.BuildProgram(t, "./examples/ledger"), args...)
}

// quickReconnect reconnects fast, so that tests do not wait for backoff.
func quickReconnect() *sioclient.Options {
	return &sioclient.Options{
		Transports:           []string{engineio.TransportWebSocket},
		ReconnectionDelay:    50 * time.Millisecond,
		ReconnectionDelayMax: 200 * time.Millisecond,
	}
}

// dialLedger connects to the ledger's namespace and returns the socket and
// a generated client over it.
func dialLedger(t *testing.T, p *siotest.Process, opts ...rpc.ClientOption) (*sioclient.Socket, *ledgerv1sio.LedgerServiceClient) {
	t.Helper()
	s, err := sioclient.Connect(ctxTimeout(t, 10*time.Second), p.URL()+ledgerv1sio.LedgerServiceNamespace, quickReconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s, ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s, opts...))
}

// waitFor polls cond until it holds, failing the test after a generous time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// transfers lists what the ledger ran, by id.
func transfers(t *testing.T, c *ledgerv1sio.LedgerServiceClient) map[string]*ledgerv1.TransferRecord {
	t.Helper()
	res, err := c.ListTransfers(rpc.WithWaitForReady(ctxTimeout(t, 20*time.Second)), &ledgerv1.ListTransfersRequest{})
	if err != nil {
		t.Fatalf("ListTransfers: %v", err)
	}
	out := map[string]*ledgerv1.TransferRecord{}
	for _, r := range res.GetTransfers() {
		out[r.GetId()] = r
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code rpc.Code) {
	t.Helper()
	if rpc.CodeOf(err) != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
}

// TestCallWhileDisconnectedFailsAtOnce: with the server down, a call fails
// with unavailable at once instead of waiting for its deadline, and one
// that asked to wait for the connection ends at its deadline.
func TestCallWhileDisconnectedFailsAtOnce(t *testing.T) {
	p := startLedger(t)
	s, c := dialLedger(t, p)
	p.Kill()
	waitFor(t, "the client sees the server gone", func() bool { return !s.Connected() })

	start := time.Now()
	_, err := c.Transfer(ctxTimeout(t, 20*time.Second), &ledgerv1.TransferRequest{Id: "t1", Amount: 1})
	wantCode(t, "call while disconnected", err, rpc.CodeUnavailable)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("failing took %v: it must not wait for the deadline", waited)
	}

	_, err = c.Transfer(rpc.WithWaitForReady(ctxTimeout(t, 300*time.Millisecond)), &ledgerv1.TransferRequest{Id: "t2", Amount: 1})
	wantCode(t, "waiting for ready while the server is down", err, rpc.CodeDeadlineExceeded)
}

// TestDefaultDeadline: a call whose context has no deadline gets the
// ClientConn's default, which travels to the server and ends the handler.
func TestDefaultDeadline(t *testing.T) {
	p := startLedger(t)
	_, c := dialLedger(t, p, rpc.WithDefaultTimeout(300*time.Millisecond))
	start := time.Now()
	_, err := c.Transfer(context.Background(), &ledgerv1.TransferRequest{Id: "slow", Amount: 1, ProcessingMs: 10000})
	wantCode(t, "a call without a deadline", err, rpc.CodeDeadlineExceeded)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the default deadline took %v", waited)
	}
	waitFor(t, "the handler stops at the deadline", func() bool {
		return transfers(t, c)["slow"].GetOutcome() == "deadline_exceeded"
	})
}

// TestGaveUpCallNeverRunsAfterReconnect is the promise of issue 14: a
// call that timed out while the client was reconnecting is not delivered
// when the connection comes back.
func TestGaveUpCallNeverRunsAfterReconnect(t *testing.T) {
	p := startLedger(t)
	s, c := dialLedger(t, p)
	p.Kill()
	waitFor(t, "the client sees the server gone", func() bool { return !s.Connected() })

	_, err := c.Transfer(rpc.WithWaitForReady(ctxTimeout(t, 500*time.Millisecond)), &ledgerv1.TransferRequest{Id: "waited", Amount: 5})
	wantCode(t, "a call that waited for ready in vain", err, rpc.CodeDeadlineExceeded)
	_, err = c.Transfer(ctxTimeout(t, 500*time.Millisecond), &ledgerv1.TransferRequest{Id: "failfast", Amount: 5})
	wantCode(t, "a call while disconnected", err, rpc.CodeUnavailable)
	p.Restart()
	waitFor(t, "the client reconnects", s.Connected)
	if _, err := c.Transfer(ctxTimeout(t, 10*time.Second), &ledgerv1.TransferRequest{Id: "after", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	got := transfers(t, c)
	for _, id := range []string{"waited", "failfast"} {
		if r, ran := got[id]; ran {
			t.Errorf("transfer %q ran after its caller gave up: %v", id, r)
		}
	}
	if got["after"].GetOutcome() != "recorded" {
		t.Errorf("transfers after the restart: %v", got)
	}
}

// TestInFlightCallFailsWhenTheServerDies: the call fails with unavailable
// as soon as the connection drops, saying its outcome is unknown.
func TestInFlightCallFailsWhenTheServerDies(t *testing.T) {
	p := startLedger(t)
	_, c := dialLedger(t, p)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Transfer(ctxTimeout(t, 30*time.Second), &ledgerv1.TransferRequest{Id: "t", Amount: 1, ProcessingMs: 5000})
		errc <- err
	}()
	waitFor(t, "the transfer started", func() bool { _, ok := transfers(t, c)["t"]; return ok })
	p.Kill()
	start := time.Now()
	select {
	case err := <-errc:
		wantCode(t, "a call in flight when the server died", err, rpc.CodeUnavailable)
		if !strings.Contains(err.Error(), "outcome is unknown") {
			t.Errorf("the error %q does not say the outcome is unknown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not fail when the connection dropped")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("failing took %v after the kill", waited)
	}
}

// TestRetryOnlyWithoutSideEffects: a call in flight when the connection
// drops is sent again after the reconnection if its method has no side
// effects (ListTransfers), and never otherwise (Transfer).
func TestRetryOnlyWithoutSideEffects(t *testing.T) {
	p := startLedger(t)
	s, c := dialLedger(t, p)
	// Paused, the server takes the requests into its socket buffer and
	// answers nothing; killed then, it never ran them.
	pause(t, p, c)
	listed := make(chan error, 1)
	transferred := make(chan error, 1)
	go func() {
		_, err := c.ListTransfers(ctxTimeout(t, 30*time.Second), &ledgerv1.ListTransfersRequest{})
		listed <- err
	}()
	go func() {
		_, err := c.Transfer(ctxTimeout(t, 30*time.Second), &ledgerv1.TransferRequest{Id: "once", Amount: 1})
		transferred <- err
	}()
	time.Sleep(200 * time.Millisecond) // let both be sent (on loopback, at once)
	p.Kill()
	err := <-transferred
	wantCode(t, "Transfer in flight at the kill", err, rpc.CodeUnavailable)
	p.Restart()
	select {
	case err := <-listed:
		if err != nil {
			t.Fatalf("ListTransfers across the restart: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("ListTransfers was not retried after the reconnection")
	}
	if !s.Connected() {
		t.Error("not connected after the retried call")
	}
	if r, ran := transfers(t, c)["once"]; ran {
		t.Errorf("Transfer was sent again after the reconnection: %v", r)
	}
}

// pause stops the server and waits until it has stopped: a call that it
// would answer at once (an invalid transfer) times out.
func pause(t *testing.T, p *siotest.Process, c *ledgerv1sio.LedgerServiceClient) {
	t.Helper()
	p.Pause()
	waitFor(t, "the server is paused", func() bool {
		_, err := c.Transfer(ctxTimeout(t, 200*time.Millisecond), &ledgerv1.TransferRequest{Id: "probe"})
		return rpc.CodeOf(err) == rpc.CodeDeadlineExceeded
	})
}

// TestRefusedNamespace: a connect_error fails the calls waiting for the
// connection at once, and later calls, with the status the refusal names.
func TestRefusedNamespace(t *testing.T) {
	p := startLedger(t, "-require-token", "sesame")
	for _, tc := range []struct {
		nsp  string
		auth any
		code rpc.Code
		msg  string
	}{
		{ledgerv1sio.LedgerServiceNamespace, map[string]string{"token": "wrong"}, rpc.CodeUnauthenticated, "a valid token is required"},
		{"/no-such-namespace", nil, rpc.CodeNotFound, "Invalid namespace"},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			m, err := sioclient.NewManager(p.URL(), quickReconnect())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := m.Socket(tc.nsp, &sioclient.SocketOptions{Auth: tc.auth})
			c := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s))
			waiting := make(chan error, 1)
			go func() {
				_, err := c.ListTransfers(rpc.WithWaitForReady(ctxTimeout(t, 20*time.Second)), &ledgerv1.ListTransfersRequest{})
				waiting <- err
			}()
			s.Connect()
			start := time.Now()
			err = <-waiting
			wantCode(t, "a call waiting for a refused connection", err, tc.code)
			if time.Since(start) > 10*time.Second {
				t.Errorf("the refusal took %v to fail the call", time.Since(start))
			}
			var re *rpc.Error
			var ce *sioclient.ConnectError
			if !errors.As(err, &re) || re.Message() != tc.msg || !errors.As(err, &ce) {
				t.Errorf("the error %v does not carry the server's refusal", err)
			}
			_, err = c.Transfer(ctxTimeout(t, 20*time.Second), &ledgerv1.TransferRequest{Id: "x", Amount: 1})
			wantCode(t, "a call after the refusal", err, tc.code)
		})
	}
}

// TestConnectReturnsWhenTheDialFails: an unreachable server is reported
// at once, unless the caller asked Connect to keep trying.
func TestConnectReturnsWhenTheDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/ledger"
	ln.Close() // nothing listens there now
	start := time.Now()
	if _, err := sioclient.Connect(ctxTimeout(t, 20*time.Second), url, quickReconnect(), nil); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Connect took %v to report a refused connection", waited)
	}
	opts := quickReconnect()
	opts.RetryConnect = true
	start = time.Now()
	_, err = sioclient.Connect(ctxTimeout(t, 500*time.Millisecond), url, opts, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 400*time.Millisecond {
		t.Errorf("with RetryConnect: %v after %v, want the context's end", err, time.Since(start))
	}
}

// TestRequestOverTheServersLimit is refused locally, and the connection
// stays up.
func TestRequestOverTheServersLimit(t *testing.T) {
	p := startLedger(t, "-max-http-buffer-size", "2000")
	s, c := dialLedger(t, p)
	id := s.ID()
	_, err := c.Transfer(ctxTimeout(t, 10*time.Second), &ledgerv1.TransferRequest{Id: strings.Repeat("x", 3000), Amount: 1})
	wantCode(t, "a request over maxPayload", err, rpc.CodeResourceExhausted)
	if _, err := c.Transfer(ctxTimeout(t, 10*time.Second), &ledgerv1.TransferRequest{Id: "small", Amount: 1}); err != nil {
		t.Fatalf("a small call after the refusal: %v", err)
	}
	if s.ID() != id {
		t.Error("the connection was replaced")
	}
	if got := transfers(t, c); len(got) != 1 {
		t.Errorf("the ledger ran %d transfers, want only the small one", len(got))
	}
}

// TestCancelReachesTheServer: a caller that gives up on a call it sent
// tells the server (sio:cancel), with the id that the call's metadata
// carried; each call has its own id.
func TestCancelReachesTheServer(t *testing.T) {
	srv := socketio.NewServer(nil)
	calls := make(chan string, 4)   // the ids in the calls' metadata
	cancels := make(chan string, 4) // the ids canceled
	srv.Of(ledgerv1sio.LedgerServiceNamespace).OnConnection(func(s *socketio.Socket) {
		s.On(ledgerv1sio.LedgerServiceTransferEvent, func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			var meta struct {
				ID        string  `json:"id"`
				TimeoutMs float64 `json:"timeoutMs"`
			}
			_ = json.Unmarshal(args.Raw(1), &meta)
			if meta.TimeoutMs <= 0 {
				t.Errorf("the call's metadata %s has no deadline", args.Raw(1))
			}
			calls <- meta.ID // and never answer
		})
		s.On(rpc.CancelEvent, func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			var id string
			_ = args.Decode(0, &id)
			cancels <- id
		})
	})
	hs := siotest.Serve(t, srv, srv)
	s, err := sioclient.Connect(ctxTimeout(t, 10*time.Second), hs.URL+ledgerv1sio.LedgerServiceNamespace, quickReconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Manager().Close()
	c := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s))

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-calls; cancel() }()
	_, err = c.Transfer(ctx, &ledgerv1.TransferRequest{Id: "c", Amount: 1})
	wantCode(t, "a canceled call", err, rpc.CodeCanceled)
	_, err = c.Transfer(ctxTimeout(t, 200*time.Millisecond), &ledgerv1.TransferRequest{Id: "d", Amount: 1})
	wantCode(t, "a call past its deadline", err, rpc.CodeDeadlineExceeded)
	second := <-calls
	var got []string
	for range 2 {
		select {
		case id := <-cancels:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("the server saw the cancels of %v only", got)
		}
	}
	if got[0] == "" || got[0] == got[1] || got[1] != second {
		t.Errorf("canceled ids %q; the second call's id was %q", got, second)
	}
}
