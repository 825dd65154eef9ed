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
// The package is optional: the core runtime does not import OpenTelemetry.
package rpcotel

import (
	"context"
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

// tracing is one configuration, resolved.
type tracing struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
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
	return &tracing{tracer: c.provider.Tracer(instrumentation), propagator: c.propagator}
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
	ctx, span := t.tracer.Start(ctx, ci.Event, serverSpan...)
	// Attributes are set only on spans that are recorded: most calls are
	// not sampled in a busy service, and for them this is the whole cost.
	if span.IsRecording() {
		span.SetAttributes(t.methodAttributes(ci.Event)...)
		if ci.Socket != nil {
			if addr := ci.Socket.Handshake().Address; addr != "" {
				span.SetAttributes(attribute.String("network.peer.address", addr))
			}
		}
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
	ctx, span := t.tracer.Start(ctx, ci.Event, clientSpan...)
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
