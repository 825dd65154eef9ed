// Package sioprom exports sio's figures to Prometheus. NewServerCollector
// reads a server's Engine.IO and Socket.IO statistics at each scrape (the
// runtime only counts, with atomic adds); RPCMetrics records calls by
// method and status code through interceptors, in the manner of the gRPC
// ecosystem's metrics.
//
//	reg := prometheus.NewRegistry()
//	calls := sioprom.NewRPCMetrics()
//	reg.MustRegister(sioprom.NewServerCollector(srv), calls)
//	err := chatv1sio.RegisterChatServiceServer(srv, impl, calls.ServerOptions()...)
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Labels have bounded values: transports, close and disconnect reasons,
// the methods a server registered, status codes. No socket id, room or
// namespace name is a label (namespaces can be made by clients).
//
// The package is optional: the core runtime does not import Prometheus.
package sioprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// NewServerCollector returns a collector of srv's figures:
//
//	sio_engineio_sessions{transport}             sessions open now
//	sio_engineio_upgrades_total                  polling sessions upgraded to WebSocket
//	sio_engineio_sessions_closed_total{reason}   sessions ended
//	sio_engineio_messages_received_total, sio_engineio_received_bytes_total
//	sio_engineio_messages_sent_total, sio_engineio_sent_bytes_total
//	sio_socketio_sockets                         sockets connected now
//	sio_socketio_namespaces                      namespaces held now
//	sio_socketio_connected_total, sio_socketio_recovered_total
//	sio_socketio_disconnected_total{reason}
//	sio_socketio_broadcasts_total                broadcasts delivered on this node
//	sio_socketio_broadcast_deliveries_total      sockets they were queued for
//	sio_engineio_queued_bytes                    data waiting for clients to take it (queue depth)
//	sio_rpc_server_calls_in_flight, sio_rpc_server_workers, sio_rpc_server_queued_calls
func NewServerCollector(srv *socketio.Server) prometheus.Collector {
	return &serverCollector{srv: srv}
}

type serverCollector struct{ srv *socketio.Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	eioSessions   = desc("sio_engineio_sessions", "Engine.IO sessions open now, by transport.", "transport")
	eioUpgrades   = desc("sio_engineio_upgrades_total", "Polling sessions upgraded to WebSocket.")
	eioClosed     = desc("sio_engineio_sessions_closed_total", "Engine.IO sessions ended, by reason.", "reason")
	eioMsgsIn     = desc("sio_engineio_messages_received_total", "Engine.IO messages received from clients.")
	eioBytesIn    = desc("sio_engineio_received_bytes_total", "Bytes of Engine.IO messages received from clients.")
	eioMsgsOut    = desc("sio_engineio_messages_sent_total", "Engine.IO messages queued to clients.")
	eioBytesOut   = desc("sio_engineio_sent_bytes_total", "Bytes of Engine.IO messages queued to clients.")
	sioSockets    = desc("sio_socketio_sockets", "Socket.IO sockets connected now, in every namespace.")
	sioNamespaces = desc("sio_socketio_namespaces", "Socket.IO namespaces held now, children of dynamic namespaces included.")
	sioConnected  = desc("sio_socketio_connected_total", "Sockets that joined a namespace.")
	sioRecovered  = desc("sio_socketio_recovered_total", "Sockets that resumed a session with connection state recovery.")
	sioLeft       = desc("sio_socketio_disconnected_total", "Sockets that left, by reason.", "reason")
	sioBroadcasts = desc("sio_socketio_broadcasts_total", "Broadcasts delivered to this node's sockets.")
	sioDeliveries = desc("sio_socketio_broadcast_deliveries_total", "Sockets broadcasts were queued for on this node.")
	eioQueued     = desc("sio_engineio_queued_bytes", "Data queued now for clients that have not taken it yet.")
	rpcInFlight   = desc("sio_rpc_server_calls_in_flight", "RPC calls begun and not ended now, queued or running.")
	rpcWorkers    = desc("sio_rpc_server_workers", "Goroutines of the RPC handler pool now, busy or idle.")
	rpcQueued     = desc("sio_rpc_server_queued_calls", "RPC calls waiting for a worker now.")
)

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{eioSessions, eioUpgrades, eioClosed, eioMsgsIn, eioBytesIn, eioMsgsOut, eioBytesOut,
		sioSockets, sioNamespaces, sioConnected, sioRecovered, sioLeft, sioBroadcasts, sioDeliveries,
		eioQueued, rpcInFlight, rpcWorkers, rpcQueued} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	e := st.Engine
	gauge(eioSessions, float64(e.PollingSessions), engineio.TransportPolling)
	gauge(eioSessions, float64(e.WebSocketSessions), engineio.TransportWebSocket)
	counter(eioUpgrades, e.Upgrades)
	for reason, n := range e.Closed {
		counter(eioClosed, n, string(reason))
	}
	counter(eioMsgsIn, e.MessagesReceived)
	counter(eioBytesIn, e.BytesReceived)
	counter(eioMsgsOut, e.MessagesSent)
	counter(eioBytesOut, e.BytesSent)
	gauge(sioSockets, float64(st.Sockets))
	gauge(sioNamespaces, float64(st.Namespaces))
	counter(sioConnected, st.Connected)
	counter(sioRecovered, st.Recovered)
	for reason, n := range st.Disconnected {
		counter(sioLeft, n, string(reason))
	}
	counter(sioBroadcasts, st.Broadcasts)
	counter(sioDeliveries, st.BroadcastDeliveries)
	gauge(eioQueued, float64(e.QueuedBytes))
	w := rpc.Workers(c.srv)
	gauge(rpcInFlight, float64(w.InFlight))
	gauge(rpcWorkers, float64(w.Workers))
	gauge(rpcQueued, float64(w.Queued))
}
