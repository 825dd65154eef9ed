package main

import (
	"context"
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
