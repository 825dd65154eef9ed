package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestLedger runs the ledger as its own process and records a transfer
// through the generated Go client.
func TestLedger(t *testing.T) {
	p := siotest.StartProcess(t, siotest.BuildProgram(t, "./examples/ledger"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, p.URL()+"/ledger", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Manager().Close()
	client := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s))
	res, err := client.Transfer(ctx, &ledgerv1.TransferRequest{Id: "t1", FromAccount: "a", ToAccount: "b", Amount: 5, ProcessingMs: 10})
	if err != nil || res.GetId() != "t1" {
		t.Fatalf("Transfer: %v, %v", res, err)
	}
	if _, err := client.Transfer(ctx, &ledgerv1.TransferRequest{Id: "t2"}); rpc.CodeOf(err) != rpc.CodeInvalidArgument {
		t.Fatalf("a zero amount: %v, want invalid_argument", err)
	}
	list, err := client.ListTransfers(ctx, &ledgerv1.ListTransfersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetTransfers(); len(got) != 1 || got[0].GetId() != "t1" || got[0].GetOutcome() != "recorded" {
		t.Fatalf("transfers %v, want t1 recorded", got)
	}
}

// TestStreamingMethods drives the ledger's client, bidirectional and
// per-call server streams with the generated Go client, and kills the
// server under an open stream.
func TestStreamingMethods(t *testing.T) {
	p := siotest.StartProcess(t, siotest.BuildProgram(t, "./examples/ledger"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, p.URL()+"/ledger", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Manager().Close()
	client := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s))

	imp, err := client.ImportTransfers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := imp.Send(&ledgerv1.ImportTransfersRequest{Transfer: &ledgerv1.TransferRequest{Id: fmt.Sprint("imp-", i), Amount: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	summary, err := imp.CloseAndReceive()
	if err != nil || summary.GetRecorded() != 100 || summary.GetTotal() != 200 || imp.ResponseTrailer()["recorded"] != "100" {
		t.Fatalf("ImportTransfers: %v, %v, trailers %v", summary, err, imp.ResponseTrailer())
	}

	each, err := client.TransferEach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		id := fmt.Sprint("each-", i)
		if err := each.Send(&ledgerv1.TransferEachRequest{Transfer: &ledgerv1.TransferRequest{Id: id, Amount: 1}}); err != nil {
			t.Fatal(err)
		}
		res, err := each.Receive()
		if err != nil || res.GetRecord().GetId() != id {
			t.Fatalf("TransferEach %s: %v, %v", id, res, err)
		}
	}
	// An invalid transfer ends the session with its error.
	_ = each.Send(&ledgerv1.TransferEachRequest{Transfer: &ledgerv1.TransferRequest{Id: "bad"}})
	if _, err := each.Receive(); rpc.CodeOf(err) != rpc.CodeInvalidArgument {
		t.Fatalf("TransferEach with an invalid transfer: %v, want invalid_argument", err)
	}

	// 120 records, 500 times over: far more than one window.
	export, err := client.ExportTransfers(ctx, &ledgerv1.ExportTransfersRequest{Repeat: 500})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range export.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 500*120 || export.ResponseTrailer()["count"] != "120" {
		t.Fatalf("ExportTransfers: %d records, trailers %v; want %d", n, export.ResponseTrailer(), 500*120)
	}

	// The server dies under an open stream: it fails with unavailable.
	open, err := client.TransferEach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if _, err := open.Receive(); rpc.CodeOf(err) != rpc.CodeUnavailable {
		t.Fatalf("Receive on a stream whose server died: %v, want unavailable", err)
	}
}

// TestNodeLoss: a subscriber of WatchTransfers on node a, transfers made
// on node b at a steady rate, over Redis. Node a is stopped while they
// flow and the subscriber's connection leads to b instead. With SIGTERM
// and recovery on Redis, the subscriber resumes on b and misses nothing.
// With SIGKILL too: node a kept its live sessions on Redis (with the
// subscription's room), so the session resumes on b from the client's
// offset, without a gap.
func TestNodeLoss(t *testing.T) {
	for _, tc := range []struct {
		name     string
		graceful bool
	}{{"SIGTERM", true}, {"SIGKILL", false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := siotest.StartRedis(t)
			bin := siotest.BuildProgram(t, "./examples/ledger")
			a := siotest.StartProcess(t, bin, "-redis", r.Addr(), "-recovery")
			b := siotest.StartProcess(t, bin, "-redis", r.Addr(), "-recovery")
			proxy := siotest.StartProxy(t, a.Addr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sub, err := sioclient.Connect(ctx, "http://"+proxy.Addr()+"/ledger", &sioclient.Options{ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 200 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Manager().Close()
			pub, err := sioclient.Connect(ctx, b.URL()+"/ledger", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Manager().Close()
			watcher := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(sub))
			payer := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(pub))
			stream, err := watcher.WatchTransfers(ctx, &ledgerv1.WatchTransfersRequest{Account: "acct"})
			if err != nil {
				t.Fatal(err)
			}
			const total = 400
			ids := make(chan string, 2*total)
			go func() {
				for {
					m, err := stream.Receive(ctx)
					switch {
					case errors.Is(err, rpc.ErrGap):
						ids <- "gap"
					case err != nil:
						ids <- "end: " + err.Error()
						return
					default:
						ids <- m.GetTransfer().GetId()
					}
				}
			}()
			// The subscription is in place once a first transfer reaches it.
			for i := 0; ; i++ {
				if _, err := payer.Transfer(ctx, &ledgerv1.TransferRequest{Id: fmt.Sprint("warm-", i), Amount: 1, ToAccount: "acct"}); err != nil {
					t.Fatal(err)
				}
				select {
				case <-ids:
				case <-time.After(100 * time.Millisecond):
					continue
				}
				break
			}
			for i := range total {
				if i == total/3 {
					proxy.SetTarget(b.Addr)
					if tc.graceful {
						go a.Terminate(15 * time.Second)
					} else {
						a.Kill()
					}
				}
				if _, err := payer.Transfer(ctx, &ledgerv1.TransferRequest{Id: fmt.Sprint("t-", i), Amount: 1, ToAccount: "acct"}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			seen, gaps, dup := map[string]bool{}, 0, 0
			last := fmt.Sprint("t-", total-1)
			for timeout := time.After(15 * time.Second); !seen[last]; {
				select {
				case id := <-ids:
					switch {
					case id == "gap":
						gaps++
					case strings.HasPrefix(id, "end: "):
						t.Fatalf("the subscription ended: %s", id)
					case seen[id]:
						dup++
					default:
						seen[id] = true
					}
				case <-timeout:
					t.Fatalf("the subscription stopped: %d transfers seen", len(seen))
				}
			}
			lost := 0
			for i := range total {
				if !seen[fmt.Sprint("t-", i)] {
					lost++
				}
			}
			t.Logf("FIGURE node loss by %s: %d of %d transfers lost, %d repeated, %d gaps reported, recovered %v", tc.name, lost, total, dup, gaps, sub.Recovered())
			if dup != 0 {
				t.Errorf("%d transfers delivered twice", dup)
			}
			// Graceful or not, the session is on Redis (a crashed node's
			// live sessions too), so it resumes on the other node.
			if lost != 0 || gaps != 0 || !sub.Recovered() {
				t.Errorf("after %s: %d lost, %d gaps, recovered %v; want nothing lost, no gap, the session resumed", tc.name, lost, gaps, sub.Recovered())
			}
		})
	}
}
