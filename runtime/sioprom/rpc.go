package sioprom

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/rpc"
)

// Method types, the rpc_type label: unary calls, room subscriptions and
// per-call streams (client, bidirectional and per-call server streams).
const (
	typeUnary     = "unary"
	typeSubscribe = "subscribe"
	typeStream    = "stream"
)

// RPCMetrics records the calls of the services it is given to (with
// ServerOptions); register it with a prometheus.Registerer:
//
//	sio_rpc_server_started_total{rpc_service, rpc_method, rpc_type}
//	sio_rpc_server_handled_total{rpc_service, rpc_method, rpc_type, code}
//	sio_rpc_server_handling_seconds{rpc_service, rpc_method, rpc_type}   a histogram
//	sio_rpc_server_streams_open{rpc_service, rpc_method}                 per-call streams running now
//	sio_rpc_server_msg_received_total{rpc_service, rpc_method}           messages of ended per-call streams, from their callers
//	sio_rpc_server_msg_sent_total{rpc_service, rpc_method}               and to them
//
// code is the status code's name, "ok" for a success. A room
// subscription is handled once its handler has named the room; what is
// published to the room afterwards is counted by the Socket.IO layer's
// broadcasts.
type RPCMetrics struct {
	started *prometheus.CounterVec
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
	open    *prometheus.GaugeVec
	msgsIn  *prometheus.CounterVec
	msgsOut *prometheus.CounterVec
	// methods caches each method's series, so that a call hashes no label
	// values: methodKey -> *methodSeries.
	methods sync.Map
}

type methodKey struct{ event, kind string }

// methodSeries are one method's series; handled is by code, filled as
// codes occur.
type methodSeries struct {
	started prometheus.Counter
	seconds prometheus.Observer
	open    prometheus.Gauge // per-call streams only
	msgsIn  prometheus.Counter
	msgsOut prometheus.Counter
	service string
	method  string
	kind    string
	handled sync.Map // code name -> prometheus.Counter
}

// NewRPCMetrics returns metrics with latency buckets from 0.5 ms to 10 s.
func NewRPCMetrics() *RPCMetrics {
	labels := []string{"rpc_service", "rpc_method", "rpc_type"}
	return &RPCMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sio_rpc_server_started_total", Help: "RPC calls started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sio_rpc_server_handled_total", Help: "RPC calls completed on the server, by status code.",
		}, append(labels, "code")),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sio_rpc_server_handling_seconds", Help: "Time from a call's start to its status, on the server.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, labels),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sio_rpc_server_streams_open", Help: "Per-call streams running on the server now.",
		}, labels[:2]),
		msgsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sio_rpc_server_msg_received_total", Help: "Messages per-call streams received from their callers, counted as the streams end.",
		}, labels[:2]),
		msgsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sio_rpc_server_msg_sent_total", Help: "Messages per-call streams sent to their callers, counted as the streams end.",
		}, labels[:2]),
	}
}

// Describe implements prometheus.Collector.
func (m *RPCMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.seconds.Describe(ch)
	m.open.Describe(ch)
	m.msgsIn.Describe(ch)
	m.msgsOut.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *RPCMetrics) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.seconds.Collect(ch)
	m.open.Collect(ch)
	m.msgsIn.Collect(ch)
	m.msgsOut.Collect(ch)
}

// ServerOptions returns the handler options that record every call a
// service serves.
func (m *RPCMetrics) ServerOptions() []rpc.HandlerOption {
	return []rpc.HandlerOption{
		rpc.WithInterceptors(func(next rpc.UnaryFunc) rpc.UnaryFunc {
			return func(ctx context.Context, req proto.Message) (proto.Message, error) {
				done := m.start(ctx, typeUnary)
				res, err := next(ctx, req)
				done(err)
				return res, err
			}
		}),
		rpc.WithSubscribeInterceptors(func(next rpc.SubscribeFunc) rpc.SubscribeFunc {
			return func(ctx context.Context, req proto.Message) (string, error) {
				done := m.start(ctx, typeSubscribe)
				room, err := next(ctx, req)
				done(err)
				return room, err
			}
		}),
		rpc.WithStreamInterceptors(func(next rpc.StreamFunc) rpc.StreamFunc {
			return func(ctx context.Context) error {
				done := m.start(ctx, typeStream)
				err := next(ctx)
				done(err)
				return err
			}
		}),
	}
}

// series returns the series of the method of event, of kind.
func (m *RPCMetrics) series(event, kind string) *methodSeries {
	key := methodKey{event, kind}
	if v, ok := m.methods.Load(key); ok {
		return v.(*methodSeries)
	}
	service, method := split(event)
	s := &methodSeries{
		started: m.started.WithLabelValues(service, method, kind),
		seconds: m.seconds.WithLabelValues(service, method, kind),
		service: service, method: method, kind: kind,
	}
	if kind == typeStream {
		s.open = m.open.WithLabelValues(service, method)
		s.msgsIn = m.msgsIn.WithLabelValues(service, method)
		s.msgsOut = m.msgsOut.WithLabelValues(service, method)
	}
	v, _ := m.methods.LoadOrStore(key, s)
	return v.(*methodSeries)
}

// handledWith is the counter of calls that ended with code.
func (m *RPCMetrics) handledWith(s *methodSeries, code string) prometheus.Counter {
	if v, ok := s.handled.Load(code); ok {
		return v.(prometheus.Counter)
	}
	c := m.handled.WithLabelValues(s.service, s.method, s.kind, code)
	s.handled.Store(code, c)
	return c
}

// start counts a call in and returns what counts it out with its outcome.
func (m *RPCMetrics) start(ctx context.Context, kind string) func(error) {
	ci, _ := rpc.CallInfoFromContext(ctx)
	s := m.series(ci.Event, kind)
	s.started.Inc()
	if s.open != nil {
		s.open.Inc()
	}
	began := time.Now()
	return func(err error) {
		code := "ok"
		if err != nil {
			code = rpc.CodeOf(err).String()
		}
		m.handledWith(s, code).Inc()
		s.seconds.Observe(time.Since(began).Seconds())
		if s.open != nil {
			s.open.Dec()
			if in, out, ok := rpc.StreamMessages(ctx); ok {
				s.msgsIn.Add(float64(in))
				s.msgsOut.Add(float64(out))
			}
		}
	}
}

// split names the service and method of an event, "pkg.Service/Method"
// by default; an event of another shape is a method without a service.
func split(event string) (service, method string) {
	if s, m, ok := strings.Cut(event, "/"); ok {
		return s, m
	}
	return "", event
}
