package main

import (
	"context"
	"fmt"
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
