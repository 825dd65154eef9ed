// Command ledger serves the example LedgerService: transfers with side
// effects, recorded in memory. It shows what sio promises a caller about
// deadlines, cancellation and disconnects: a transfer whose caller gave up
// is not recorded, and ListTransfers tells what the server really did.
//
//	go run ./examples/ledger -addr 127.0.0.1:8090
//
// With -redis it is one node of a cluster, and with -recovery clients
// resume their sessions (on any node, with -redis) after a lost
// connection.
//
// It prints "listening on host:port" once it accepts connections, so tests
// can start it as a separate process, kill it and start it again.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
)

// ledger records transfers in memory.
type ledger struct {
	ledgerv1sio.UnimplementedLedgerServiceServer
	srv *socketio.Server

	mu      sync.Mutex
	records []*ledgerv1.TransferRecord
}

// Transfer takes processing_ms to record a transfer, unless its caller
// gives up first: then nothing is recorded and the record says why.
func (l *ledger) Transfer(ctx context.Context, req *ledgerv1.TransferRequest) (*ledgerv1.TransferResponse, error) {
	if req.GetAmount() <= 0 {
		return nil, rpc.Errorf(rpc.CodeInvalidArgument, "amount must be positive, got %d", req.GetAmount())
	}
	rec := &ledgerv1.TransferRecord{Id: req.GetId(), Amount: req.GetAmount(), StartedUnixMs: time.Now().UnixMilli()}
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()

	timer := time.NewTimer(time.Duration(req.GetProcessingMs()) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		outcome := "canceled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			outcome = "deadline_exceeded"
		}
		l.setOutcome(rec, outcome)
		return nil, ctx.Err() // canceled or deadline_exceeded, as the caller sees it
	}
	l.setOutcome(rec, "recorded")
	done := &ledgerv1.TransferRecord{Id: rec.GetId(), Amount: rec.GetAmount(), StartedUnixMs: rec.GetStartedUnixMs(), Outcome: "recorded"}
	for _, account := range []string{req.GetFromAccount(), req.GetToAccount()} {
		if account != "" {
			_ = ledgerv1sio.PublishLedgerServiceWatchTransfers(l.srv, account, &ledgerv1.WatchTransfersResponse{Transfer: done})
		}
	}
	return &ledgerv1.TransferResponse{Id: req.GetId(), RecordedUnixMs: time.Now().UnixMilli()}, nil
}

func (l *ledger) setOutcome(rec *ledgerv1.TransferRecord, outcome string) {
	l.mu.Lock()
	rec.Outcome = outcome
	l.mu.Unlock()
}

// ListTransfers returns every transfer started so far.
func (l *ledger) ListTransfers(context.Context, *ledgerv1.ListTransfersRequest) (*ledgerv1.ListTransfersResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := &ledgerv1.ListTransfersResponse{}
	for _, r := range l.records {
		res.Transfers = append(res.Transfers, &ledgerv1.TransferRecord{
			Id: r.GetId(), Amount: r.GetAmount(), StartedUnixMs: r.GetStartedUnixMs(), Outcome: r.GetOutcome(),
		})
	}
	return res, nil
}

// WatchTransfers subscribes the caller to an account's completed transfers.
func (l *ledger) WatchTransfers(_ context.Context, req *ledgerv1.WatchTransfersRequest) (string, error) {
	if req.GetAccount() == "" {
		return "", rpc.Errorf(rpc.CodeInvalidArgument, "account is empty")
	}
	return req.GetAccount(), nil
}

// ImportTransfers records each transfer the caller streams, in order, and
// answers with the count and total once the caller has sent its last.
func (l *ledger) ImportTransfers(ctx context.Context, stream *rpc.ClientStream[*ledgerv1.ImportTransfersRequest]) (*ledgerv1.ImportTransfersResponse, error) {
	res := &ledgerv1.ImportTransfersResponse{}
	for stream.Receive() {
		t := stream.Msg().GetTransfer()
		if _, err := l.Transfer(ctx, t); err != nil {
			return nil, err
		}
		res.Recorded++
		res.Total += t.GetAmount()
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	stream.ResponseTrailer()["recorded"] = fmt.Sprint(res.GetRecorded())
	return res, nil
}

// TransferEach records every transfer as it arrives and answers it with
// its record; an invalid one ends the session with its error.
func (l *ledger) TransferEach(ctx context.Context, stream *rpc.BidiStream[*ledgerv1.TransferEachRequest, *ledgerv1.TransferEachResponse]) error {
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		t := req.GetTransfer()
		if _, err := l.Transfer(ctx, t); err != nil {
			return err
		}
		rec := &ledgerv1.TransferRecord{Id: t.GetId(), Amount: t.GetAmount(), Outcome: "recorded", StartedUnixMs: time.Now().UnixMilli()}
		if err := stream.Send(&ledgerv1.TransferEachResponse{Record: rec}); err != nil {
			return err
		}
	}
}

// ExportTransfers sends every transfer started so far, repeat times over,
// to its one caller, waiting whenever the caller's window is full.
func (l *ledger) ExportTransfers(ctx context.Context, req *ledgerv1.ExportTransfersRequest, stream *rpc.ServerStream[*ledgerv1.ExportTransfersResponse]) error {
	list, _ := l.ListTransfers(ctx, nil)
	for range max(1, req.GetRepeat()) {
		for _, r := range list.GetTransfers() {
			if err := stream.Send(&ledgerv1.ExportTransfersResponse{Record: r}); err != nil {
				return err
			}
		}
	}
	stream.ResponseTrailer()["count"] = fmt.Sprint(len(list.GetTransfers()))
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	maxBuffer := flag.Int("max-http-buffer-size", 0, "largest message a client may send, in bytes (0: the default, 1 MB)")
	token := flag.String("require-token", "", "refuse connections to /ledger whose auth has no {\"token\": this}")
	redisAddr := flag.String("redis", "", "run as a node of a cluster on this Redis server (the Redis adapter)")
	recovery := flag.Bool("recovery", false, "turn connection state recovery on (kept in Redis with -redis)")
	flag.Parse()

	opts := &socketio.Options{Engine: engineio.Options{MaxHTTPBufferSize: int64(*maxBuffer)}}
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer rdb.Close()
		opts.Adapter = redisadapter.New(rdb, nil)
	}
	if *recovery {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{}
	}
	srv := socketio.NewServer(opts)
	if *token != "" {
		srv.Of("/ledger").Use(requireToken(*token))
	}
	if err := ledgerv1sio.RegisterLedgerServiceServer(srv, &ledger{srv: srv}); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // running transfers finish; new calls are refused
	}()
	if err := srv.Serve(ln); err != nil {
		log.Fatal(err)
	}
}

// requireToken refuses sockets whose auth payload lacks the token, with
// the status code in the refusal's data so that typed clients report
// unauthenticated.
func requireToken(token string) socketio.Middleware {
	return func(s *socketio.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Token != token {
			return &socketio.ConnectError{Message: "a valid token is required", Data: map[string]string{"code": "unauthenticated"}}
		}
		return nil
	}
}
