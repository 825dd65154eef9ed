package sioprom_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/sioprom"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

type ledger struct {
	ledgerv1sio.UnimplementedLedgerServiceServer
}

func (ledger) Transfer(_ context.Context, req *ledgerv1.TransferRequest) (*ledgerv1.TransferResponse, error) {
	if req.GetAmount() == 0 {
		return nil, rpc.Errorf(rpc.CodeInvalidArgument, "amount is zero")
	}
	return &ledgerv1.TransferResponse{Id: req.GetId()}, nil
}

func (ledger) WatchTransfers(context.Context, *ledgerv1.WatchTransfersRequest) (string, error) {
	return "acme", nil
}

func (ledger) ImportTransfers(_ context.Context, stream *rpc.ClientStream[*ledgerv1.ImportTransfersRequest]) (*ledgerv1.ImportTransfersResponse, error) {
	res := &ledgerv1.ImportTransfersResponse{}
	for stream.Receive() {
		res.Recorded++
	}
	return res, stream.Err()
}

func (ledger) ExportTransfers(_ context.Context, _ *ledgerv1.ExportTransfersRequest, stream *rpc.ServerStream[*ledgerv1.ExportTransfersResponse]) error {
	return stream.Send(&ledgerv1.ExportTransfersResponse{Record: &ledgerv1.TransferRecord{Id: "r"}})
}

// scrape reads /metrics as Prometheus does: lines of name{labels} value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// value is the metric name with (at least) the given labels, "k=v" each.
func value(t *testing.T, metrics map[string]float64, name string, labels ...string) float64 {
	t.Helper()
	for key, v := range metrics {
		n, rest, _ := strings.Cut(key, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			k, val, _ := strings.Cut(l, "=")
			ok = ok && strings.Contains(rest, k+`="`+val+`"`)
		}
		if ok {
			return v
		}
	}
	t.Fatalf("no metric %s%v in the scrape", name, labels)
	return 0
}

// TestScrape scrapes /metrics from a live server under a small load and
// checks each figure against what the clients did.
func TestScrape(t *testing.T) {
	srv := socketio.NewServer(nil)
	calls := sioprom.NewRPCMetrics()
	if err := ledgerv1sio.RegisterLedgerServiceServer(srv, ledger{}, calls.ServerOptions()...); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sioprom.NewServerCollector(srv), calls)
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	connect := func(opts *sioclient.Options) *sioclient.Socket {
		s, err := sioclient.Connect(ctx, hs.URL+ledgerv1sio.LedgerServiceNamespace, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Three clients that start polling and upgrade, one that stays on polling.
	var upgrading []*sioclient.Socket
	for range 3 {
		upgrading = append(upgrading, connect(nil))
	}
	polling := connect(&sioclient.Options{Transports: []string{engineio.TransportPolling}})
	defer polling.Manager().Close()

	var subs []*rpc.Stream[*ledgerv1.WatchTransfersResponse]
	for _, s := range upgrading {
		client := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(s))
		for i := range 4 {
			amount := int64(i) // the first of each four fails
			if _, err := client.Transfer(ctx, &ledgerv1.TransferRequest{Amount: amount}); (err != nil) != (amount == 0) {
				t.Fatalf("transfer of %d: %v", amount, err)
			}
		}
		sub, err := client.WatchTransfers(ctx, &ledgerv1.WatchTransfersRequest{Account: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	export, err := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(upgrading[0])).ExportTransfers(ctx, &ledgerv1.ExportTransfersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := export.Receive(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	imports, err := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(upgrading[1])).ImportTransfers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := imports.Send(&ledgerv1.ImportTransfersRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := imports.CloseAndReceive(); err != nil || res.GetRecorded() != 3 {
		t.Fatalf("import: %v, %v", res, err)
	}
	// One publish reaches the three subscribers.
	if err := ledgerv1sio.PublishLedgerServiceWatchTransfers(srv, "acme", &ledgerv1.WatchTransfersResponse{}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Every upgrade is done, then one client leaves.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Engine.Upgrades < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	upgrading[2].Manager().Close()
	for srv.Stats().Sockets != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	defer upgrading[0].Manager().Close()
	defer upgrading[1].Manager().Close()

	m := scrape(t, hs.URL)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sio_engineio_sessions", []string{"transport=websocket"}, 2},
		{"sio_engineio_sessions", []string{"transport=polling"}, 1},
		{"sio_engineio_upgrades_total", nil, 3},
		{"sio_socketio_sockets", nil, 3},
		{"sio_socketio_connected_total", nil, 4},
		{"sio_socketio_namespaces", nil, 2}, // "/" and "/ledger"
		{"sio_socketio_broadcast_deliveries_total", nil, 3},
		{"sio_rpc_server_started_total", []string{"rpc_method=Transfer", "rpc_type=unary", "rpc_service=example.ledger.v1.LedgerService"}, 12},
		{"sio_rpc_server_handled_total", []string{"rpc_method=Transfer", "code=ok"}, 9},
		{"sio_rpc_server_handled_total", []string{"rpc_method=Transfer", "code=invalid_argument"}, 3},
		{"sio_rpc_server_handling_seconds_count", []string{"rpc_method=Transfer"}, 12},
		{"sio_rpc_server_handled_total", []string{"rpc_method=WatchTransfers", "rpc_type=subscribe", "code=ok"}, 3},
		{"sio_rpc_server_handled_total", []string{"rpc_method=ExportTransfers", "rpc_type=stream", "code=ok"}, 1},
		{"sio_rpc_server_streams_open", []string{"rpc_method=ExportTransfers"}, 0},
		{"sio_rpc_server_msg_sent_total", []string{"rpc_method=ExportTransfers"}, 1},
		{"sio_rpc_server_msg_received_total", []string{"rpc_method=ExportTransfers"}, 0},
		{"sio_rpc_server_msg_received_total", []string{"rpc_method=ImportTransfers"}, 3},
		{"sio_rpc_server_msg_sent_total", []string{"rpc_method=ImportTransfers"}, 1},
		{"sio_rpc_server_calls_in_flight", nil, 0},
		{"sio_rpc_server_queued_calls", nil, 0},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	left := 0.0
	for _, reason := range []string{"client namespace disconnect", "transport close"} {
		left += value(t, m, "sio_socketio_disconnected_total", "reason="+reason)
	}
	if left != 1 {
		t.Errorf("sockets that left: %v, want 1", left)
	}
	// The counts of messages and bytes cover at least the calls made.
	if in, out := value(t, m, "sio_engineio_messages_received_total"), value(t, m, "sio_engineio_messages_sent_total"); in < 15 || out < 15 {
		t.Errorf("messages received %v, sent %v: fewer than the calls", in, out)
	}
	if value(t, m, "sio_engineio_received_bytes_total") <= value(t, m, "sio_engineio_messages_received_total") {
		t.Error("bytes received do not exceed the messages received")
	}
	if value(t, m, "sio_rpc_server_workers") < 1 {
		t.Error("no RPC workers after the calls")
	}
	if q := value(t, m, "sio_engineio_queued_bytes"); q < 0 || q > 1<<20 {
		t.Errorf("queued bytes %v", q)
	}
	// No label carries a socket id or a room.
	for key := range m {
		if strings.Contains(key, "acme") || strings.Contains(key, upgrading[0].ID()) {
			t.Errorf("a label holds a room or a socket id: %s", key)
		}
	}
}
