package rpcotel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	ledgerv1 "github.com/sio-dev/sio/gen/go/example/ledger/v1"
	"github.com/sio-dev/sio/gen/go/example/ledger/v1/ledgerv1sio"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/rpc/rpcotel"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// ledger serves a unary method that fails on a zero amount, a room
// subscription and a per-call stream.
type ledger struct {
	ledgerv1sio.UnimplementedLedgerServiceServer
}

func (ledger) Transfer(ctx context.Context, req *ledgerv1.TransferRequest) (*ledgerv1.TransferResponse, error) {
	if req.GetAmount() == 0 {
		return nil, rpc.Errorf(rpc.CodeInvalidArgument, "amount is zero")
	}
	if req.GetFromAccount() == "span context" {
		// Tells the caller what the handler's context says of the trace.
		sc := trace.SpanContextFromContext(ctx)
		return &ledgerv1.TransferResponse{Id: fmt.Sprintf("%s %s %v", sc.TraceID(), sc.SpanID(), sc.IsSampled())}, nil
	}
	// A span started by the handler is a child of the call's.
	_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("ledger").Start(ctx, "record")
	span.End()
	return &ledgerv1.TransferResponse{Id: req.GetId()}, nil
}

func (ledger) WatchTransfers(context.Context, *ledgerv1.WatchTransfersRequest) (string, error) {
	return "acme", nil
}

func (ledger) ExportTransfers(_ context.Context, _ *ledgerv1.ExportTransfersRequest, stream *rpc.ServerStream[*ledgerv1.ExportTransfersResponse]) error {
	return stream.Send(&ledgerv1.ExportTransfersResponse{Record: &ledgerv1.TransferRecord{Id: "r"}})
}

// traced is a ledger server whose spans go to the returned exporter.
func traced(t *testing.T, opts ...rpcotel.Option) (url string, spans *tracetest.InMemoryExporter, tp *sdktrace.TracerProvider) {
	t.Helper()
	spans = tracetest.NewInMemoryExporter()
	tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := socketio.NewServer(nil)
	if err := ledgerv1sio.RegisterLedgerServiceServer(srv, ledger{}, rpcotel.ServerOptions(append([]rpcotel.Option{rpcotel.WithTracerProvider(tp)}, opts...)...)...); err != nil {
		t.Fatal(err)
	}
	return siotest.Serve(t, srv, srv).URL, spans, tp
}

// span returns the one ended span named name of kind, failing otherwise.
func span(t *testing.T, spans *tracetest.InMemoryExporter, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for {
		found = found[:0]
		for _, s := range spans.GetSpans() {
			if s.Name == name && s.SpanKind == kind {
				found = append(found, s)
			}
		}
		if len(found) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(found) != 1 {
		t.Fatalf("%d %v spans named %s, want 1; all: %v", len(found), kind, name, names(spans))
	}
	return found[0]
}

func names(spans *tracetest.InMemoryExporter) []string {
	var out []string
	for _, s := range spans.GetSpans() {
		out = append(out, fmt.Sprintf("%s(%v)", s.Name, s.SpanKind))
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestGoClientAndServerShareATrace: every kind of call gives a client
// span and a server span in one trace, the server's the child of the
// client's, with the method's attributes and the outcome's status.
func TestGoClientAndServerShareATrace(t *testing.T) {
	url, spans, tp := traced(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	socket, err := sioclient.Connect(ctx, url+ledgerv1sio.LedgerServiceNamespace, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer socket.Manager().Close()
	client := ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(socket, rpcotel.ClientOptions(rpcotel.WithTracerProvider(tp))...))

	if _, err := client.Transfer(ctx, &ledgerv1.TransferRequest{Id: "t1", Amount: 5}); err != nil {
		t.Fatal(err)
	}
	const transfer = "example.ledger.v1.LedgerService/Transfer"
	cs, ss := span(t, spans, transfer, trace.SpanKindClient), span(t, spans, transfer, trace.SpanKindServer)
	if ss.SpanContext.TraceID() != cs.SpanContext.TraceID() || ss.Parent.SpanID() != cs.SpanContext.SpanID() || !ss.Parent.IsRemote() {
		t.Errorf("server span %v (parent %v) is not the remote child of client span %v", ss.SpanContext, ss.Parent, cs.SpanContext)
	}
	for _, s := range []tracetest.SpanStub{cs, ss} {
		if attr(s, "rpc.system") != "sio" || attr(s, "rpc.service") != "example.ledger.v1.LedgerService" || attr(s, "rpc.method") != "Transfer" || attr(s, "rpc.sio.status_code") != "ok" || s.Status.Code == codes.Error {
			t.Errorf("span %s(%v): attributes %v, status %v", s.Name, s.SpanKind, s.Attributes, s.Status)
		}
	}
	if !strings.HasPrefix(attr(ss, "network.peer.address"), "127.0.0.1:") {
		t.Errorf("server span's peer address: %q", attr(ss, "network.peer.address"))
	}
	if child := span(t, spans, "record", trace.SpanKindInternal); child.Parent.SpanID() != ss.SpanContext.SpanID() {
		t.Errorf("the handler's own span is not a child of the call's")
	}

	// A failed call: both spans say so.
	spans.Reset()
	if _, err := client.Transfer(ctx, &ledgerv1.TransferRequest{Id: "t2"}); rpc.CodeOf(err) != rpc.CodeInvalidArgument {
		t.Fatalf("zero amount: %v", err)
	}
	for _, kind := range []trace.SpanKind{trace.SpanKindClient, trace.SpanKindServer} {
		s := span(t, spans, transfer, kind)
		if s.Status.Code != codes.Error || attr(s, "rpc.sio.status_code") != "invalid_argument" || !strings.Contains(s.Status.Description, "amount is zero") {
			t.Errorf("failed call's %v span: status %v, attributes %v", kind, s.Status, s.Attributes)
		}
	}

	// A room subscription and a per-call stream are traced too.
	spans.Reset()
	watch, err := client.WatchTransfers(ctx, &ledgerv1.WatchTransfersRequest{Account: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_ = watch.Close()
	export, err := client.ExportTransfers(ctx, &ledgerv1.ExportTransfersRequest{})
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
	for _, method := range []string{"WatchTransfers", "ExportTransfers"} {
		name := "example.ledger.v1.LedgerService/" + method
		cs, ss := span(t, spans, name, trace.SpanKindClient), span(t, spans, name, trace.SpanKindServer)
		if ss.SpanContext.TraceID() != cs.SpanContext.TraceID() || attr(ss, "rpc.sio.status_code") != "ok" {
			t.Errorf("%s: server span %v, client span %v, attributes %v", method, ss.SpanContext, cs.SpanContext, ss.Attributes)
		}
	}
}

// TestTypeScriptCallJoinsTheTrace: a call from the generated TypeScript
// client, with the real OpenTelemetry JS SDK's span as the current one and
// the runtime's traceContext interceptors, is handled in that span's
// trace (internal/nodepeer/scripts/trace_client.ts prints its ids).
func TestTypeScriptCallJoinsTheTrace(t *testing.T) {
	url, spans, _ := traced(t)
	out := nodepeer.RunTSOutput(t, 30*time.Second, "trace_client.ts", url)
	var traceID, spanID string
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "trace %s span %s", &traceID, &spanID); err != nil {
		t.Fatalf("the script printed %q: %v", out, err)
	}
	ss := span(t, spans, "example.ledger.v1.LedgerService/Transfer", trace.SpanKindServer)
	if ss.SpanContext.TraceID().String() != traceID || ss.Parent.SpanID().String() != spanID {
		t.Errorf("server span in trace %s with parent %s, want trace %s parent %s", ss.SpanContext.TraceID(), ss.Parent.SpanID(), traceID, spanID)
	}
	if attr(ss, "rpc.sio.status_code") != "ok" {
		t.Errorf("attributes %v", ss.Attributes)
	}
}

// TestSampleRatio: with WithSampleRatio the server decides before the
// tracer: a caller's sampled trace is followed, a root call is traced at
// the ratio, and a call not traced still has an unsampled trace context,
// so the handler's own spans are not recorded either.
func TestSampleRatio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const transfer = "example.ledger.v1.LedgerService/Transfer"
	count := func(spans *tracetest.InMemoryExporter, name string) int {
		n := 0
		for _, s := range spans.GetSpans() {
			if s.Name == name {
				n++
			}
		}
		return n
	}
	connect := func(url string, opts ...rpc.ClientOption) *ledgerv1sio.LedgerServiceClient {
		socket, err := sioclient.Connect(ctx, url+ledgerv1sio.LedgerServiceNamespace, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { socket.Manager().Close() })
		return ledgerv1sio.NewLedgerServiceClient(rpc.NewClientConn(socket, opts...))
	}

	url, spans, tp := traced(t, rpcotel.WithSampleRatio(0))
	plain := connect(url)
	res, err := plain.Transfer(ctx, &ledgerv1.TransferRequest{Id: "root", Amount: 1, FromAccount: "span context"})
	if err != nil {
		t.Fatal(err)
	}
	var traceID, spanID string
	var sampled bool
	if _, err := fmt.Sscanf(res.GetId(), "%s %s %t", &traceID, &spanID, &sampled); err != nil || sampled || strings.Trim(traceID, "0") == "" || strings.Trim(spanID, "0") == "" {
		t.Errorf("an untraced call's handler sees the span context %q (%v); want valid ids, not sampled", res.GetId(), err)
	}
	if _, err := plain.Transfer(ctx, &ledgerv1.TransferRequest{Id: "root2", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Errorf("ratio 0: %d spans recorded for root calls (%v), want none, the handler's own included", n, names(spans))
	}
	// A caller whose trace is sampled is followed.
	tracedClient := connect(url, rpcotel.ClientOptions(rpcotel.WithTracerProvider(tp))...)
	if _, err := tracedClient.Transfer(ctx, &ledgerv1.TransferRequest{Id: "child", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	cs, ss := span(t, spans, transfer, trace.SpanKindClient), span(t, spans, transfer, trace.SpanKindServer)
	if ss.Parent.SpanID() != cs.SpanContext.SpanID() {
		t.Errorf("a sampled caller's call: server span's parent %v, want the client span %v", ss.Parent.SpanID(), cs.SpanContext.SpanID())
	}
	// A client that samples nothing sends an unsampled trace context,
	// which the server follows: nothing recorded on either side, and the
	// handler is in the client's trace.
	spans.Reset()
	quiet := connect(url, rpcotel.ClientOptions(rpcotel.WithTracerProvider(tp), rpcotel.WithSampleRatio(0))...)
	res, err = quiet.Transfer(ctx, &ledgerv1.TransferRequest{Id: "quiet", Amount: 1, FromAccount: "span context"})
	if err != nil || strings.HasSuffix(res.GetId(), "true") {
		t.Errorf("an unsampled caller's call: %v, handler's span context %q", err, res.GetId())
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Errorf("an unsampled caller's call recorded %d spans: %v", n, names(spans))
	}

	// Ratio 1 traces every root call; 0.5 about half of them.
	url, spans, _ = traced(t, rpcotel.WithSampleRatio(1))
	all := connect(url)
	for i := range 20 {
		if _, err := all.Transfer(ctx, &ledgerv1.TransferRequest{Id: fmt.Sprint(i), Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(spans, transfer); n != 20 {
		t.Errorf("ratio 1: %d of 20 calls traced", n)
	}
	url, spans, _ = traced(t, rpcotel.WithSampleRatio(0.5))
	half := connect(url)
	const calls = 400
	for i := range calls {
		if _, err := half.Transfer(ctx, &ledgerv1.TransferRequest{Id: fmt.Sprint(i), Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// 200 expected, standard deviation 10: outside 100..300 is a bug.
	if n := count(spans, transfer); n < 100 || n > 300 {
		t.Errorf("ratio 0.5: %d of %d calls traced", n, calls)
	}
}
