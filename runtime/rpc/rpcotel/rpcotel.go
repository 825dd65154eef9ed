// Package rpcotel traces sio RPC calls with OpenTelemetry: a span for every
// call on the server and on the Go client, with the W3C trace context
// (traceparent, tracestate, baggage) carried in the call's headers. A
// TypeScript caller that sends the same headers (see traceContext in the
// @sio-dev/runtime package) and its Go handler share one trace.
//
//	err := chatv1sio.RegisterChatServiceServer(srv, impl, rpcotel.ServerOptions()...)
//	conn := rpc.NewClientConn(socket, rpcotel.ClientOptions()...)
//
// Spans are named after the method's event ("pkg.Service/Method") and,
// when they are recorded (sampled), carry the attributes of
// OpenTelemetry's RPC conventions: rpc.system
// "sio", rpc.service, rpc.method, and rpc.sio.status_code with the status
// code's name ("ok" or, for instance, "deadline_exceeded"). A failed call's
// span has status Error. On the client, a per-call stream's span covers
// its opening; a room subscription's, the subscribe call.
//
// By default every call asks the tracer for a span, and the provider's
// sampler decides. With WithSampleRatio the package decides first, and a
// call it does not trace costs a tenth of an unsampled span of the SDK.
//
// The package is optional: the core runtime does not import OpenTelemetry.
package rpcotel

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/rpc"
)

// instrumentation is the name of the tracer the package uses.
const instrumentation = "github.com/sio-dev/sio/runtime/rpc/rpcotel"

// Option configures the tracing.
type Option func(*config)

type config struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	ratio      float64
	sampling   bool
}

// WithTracerProvider sets where spans go. Default: otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.provider = tp }
}

// WithPropagator sets how the trace context travels in the call's
// headers. Default: W3C trace context and baggage.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// WithSampleRatio makes the package decide which calls are traced before
// it asks the tracer. A call whose context (on the server: the caller's
// trace context; on the client: the current span) is part of a trace
// follows that trace's sampled flag; of the others, this fraction is
// traced (ratio <= 0: none, >= 1: all). A call that is not traced still
// gets a trace context, not sampled, with a span id of its own, so that
// the handler's own spans and the calls it makes are not traced either and
// downstream services follow the decision; it costs a few random numbers
// and one context, where an unsampled span of the SDK costs about ten
// times as much (the sampler, the options, the span), which for a call
// as cheap as sio's is the larger part of tracing's price.
//
// Keep the provider's sampler at the SDK's default, ParentBased(AlwaysSample):
// a ratio sampler there would sample again the calls kept here.
func WithSampleRatio(ratio float64) Option {
	return func(c *config) { c.ratio, c.sampling = ratio, true }
}

// tracing is one configuration, resolved.
type tracing struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	// sampling: decide before asking the tracer, keeping the calls whose
	// random draw is below threshold.
	sampling  bool
	threshold uint64
	// attrs caches each event's attributes (the methods of a service are
	// few): event -> []attribute.KeyValue.
	attrs sync.Map
}

func newTracing(opts []Option) *tracing {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	if c.provider == nil {
		c.provider = otel.GetTracerProvider()
	}
	if c.propagator == nil {
		c.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	t := &tracing{tracer: c.provider.Tracer(instrumentation), propagator: c.propagator, sampling: c.sampling}
	switch {
	case c.ratio >= 1:
		t.threshold = math.MaxUint64
	case c.ratio > 0:
		t.threshold = uint64(c.ratio*(1<<63)) << 1
	}
	return t
}

// start starts the span of a call in ctx, or, when the package samples and
// the call is not traced, gives ctx an unsampled span context instead.
func (t *tracing) start(ctx context.Context, name string, opts []trace.SpanStartOption) (context.Context, trace.Span) {
	if t.sampling {
		parent := trace.SpanContextFromContext(ctx)
		var traced bool
		if parent.IsValid() {
			traced = parent.IsSampled()
		} else {
			traced = t.threshold == math.MaxUint64 || rand.Uint64() < t.threshold
		}
		if !traced {
			return untraced(ctx, parent)
		}
	}
	return t.tracer.Start(ctx, name, opts...)
}

// untraced returns ctx with an unsampled span context of its own: a child
// of parent's trace, or of a new one.
func untraced(ctx context.Context, parent trace.SpanContext) (context.Context, trace.Span) {
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), TraceState: parent.TraceState()}
	if !parent.IsValid() {
		binary.BigEndian.PutUint64(cfg.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(cfg.TraceID[8:], rand.Uint64())
	}
	binary.BigEndian.PutUint64(cfg.SpanID[:], rand.Uint64()|1) // never the invalid zero id
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(cfg))
	return ctx, trace.SpanFromContext(ctx)
}

// ServerOptions returns the handler options that trace every call a
// service serves: unary calls, room subscriptions and per-call streams.
// Put them first among the options so that the spans cover the other
// interceptors too.
func ServerOptions(opts ...Option) []rpc.HandlerOption {
	t := newTracing(opts)
	return []rpc.HandlerOption{
		rpc.WithInterceptors(func(next rpc.UnaryFunc) rpc.UnaryFunc {
			return func(ctx context.Context, req proto.Message) (proto.Message, error) {
				ctx, span := t.startServer(ctx)
				res, err := next(ctx, req)
				end(span, err)
				return res, err
			}
		}),
		rpc.WithSubscribeInterceptors(func(next rpc.SubscribeFunc) rpc.SubscribeFunc {
			return func(ctx context.Context, req proto.Message) (string, error) {
				ctx, span := t.startServer(ctx)
				room, err := next(ctx, req)
				end(span, err)
				return room, err
			}
		}),
		rpc.WithStreamInterceptors(func(next rpc.StreamFunc) rpc.StreamFunc {
			return func(ctx context.Context) error {
				ctx, span := t.startServer(ctx)
				err := next(ctx)
				end(span, err)
				return err
			}
		}),
	}
}

// startServer starts the span of the call in ctx, a child of the trace
// context its headers carry.
func (t *tracing) startServer(ctx context.Context) (context.Context, trace.Span) {
	ci, _ := rpc.CallInfoFromContext(ctx)
	if len(ci.Header) > 0 {
		// A call without headers carries no trace context to extract.
		ctx = t.propagator.Extract(ctx, propagation.MapCarrier(ci.Header))
	}
	ctx, span := t.start(ctx, ci.Event, serverSpan)
	// Attributes are set only on spans that are recorded: most calls are
	// not sampled in a busy service, and for them this is the whole cost.
	if span.IsRecording() {
		// One SetAttributes: each call takes the span's lock, and any
		// after the first de-duplicates what is there.
		attrs := t.methodAttributes(ci.Event)
		if ci.Socket != nil {
			if addr := ci.Socket.Handshake().Address; addr != "" {
				attrs = append(attrs, attribute.String("network.peer.address", addr)) // copies: attrs is clipped
			}
		}
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// The start options of the spans, made once.
var (
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// ClientOptions returns the client options that trace every call made on
// a ClientConn and send the trace context with it.
func ClientOptions(opts ...Option) []rpc.ClientOption {
	t := newTracing(opts)
	return []rpc.ClientOption{
		rpc.WithClientInterceptors(func(next rpc.UnaryFunc) rpc.UnaryFunc {
			return func(ctx context.Context, req proto.Message) (proto.Message, error) {
				ctx, span := t.startClient(ctx)
				res, err := next(ctx, req)
				end(span, err)
				return res, err
			}
		}),
		rpc.WithClientSubscribeInterceptors(func(next rpc.SubscribeFunc) rpc.SubscribeFunc {
			return func(ctx context.Context, req proto.Message) (string, error) {
				ctx, span := t.startClient(ctx)
				room, err := next(ctx, req)
				end(span, err)
				return room, err
			}
		}),
		rpc.WithClientStreamInterceptors(func(next rpc.StreamFunc) rpc.StreamFunc {
			return func(ctx context.Context) error {
				ctx, span := t.startClient(ctx)
				err := next(ctx)
				end(span, err)
				return err
			}
		}),
	}
}

// startClient starts the span of the call in ctx and puts its trace
// context into the call's headers.
func (t *tracing) startClient(ctx context.Context) (context.Context, trace.Span) {
	ci, _ := rpc.ClientCallInfoFromContext(ctx)
	ctx, span := t.start(ctx, ci.Event, clientSpan)
	if span.IsRecording() {
		span.SetAttributes(t.methodAttributes(ci.Event)...)
	}
	carrier := propagation.MapCarrier{}
	t.propagator.Inject(ctx, carrier)
	return rpc.WithHeaders(ctx, carrier), span
}

// methodAttributes names the method of event, "pkg.Service/Method" by
// default; an event of another shape is the method, without a service.
func (t *tracing) methodAttributes(event string) []attribute.KeyValue {
	if v, ok := t.attrs.Load(event); ok {
		return v.([]attribute.KeyValue)
	}
	attrs := []attribute.KeyValue{attribute.String("rpc.system", "sio")}
	if service, method, ok := strings.Cut(event, "/"); ok {
		attrs = append(attrs, attribute.String("rpc.service", service), attribute.String("rpc.method", method))
	} else {
		attrs = append(attrs, attribute.String("rpc.method", event))
	}
	attrs = slices.Clip(attrs) // shared: an append must copy
	t.attrs.Store(event, attrs)
	return attrs
}

// end records the call's outcome on span and ends it.
func end(span trace.Span, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err == nil {
		span.SetAttributes(attribute.String("rpc.sio.status_code", "ok"))
	} else {
		span.SetAttributes(attribute.String("rpc.sio.status_code", rpc.CodeOf(err).String()))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
