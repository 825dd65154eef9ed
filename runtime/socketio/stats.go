package socketio

import (
	"sync/atomic"

	"github.com/sio-dev/sio/runtime/engineio"
)

// Stats are what a server has done since it started, and its sockets now:
// the figures a metrics exporter reads at each scrape (sio's Prometheus
// collector does). Counting costs an atomic add per event counted.
type Stats struct {
	// Sockets connected now, in every namespace.
	Sockets int64
	// Namespaces held now, the children of dynamic namespaces included.
	Namespaces int
	// Connected counts the sockets that joined a namespace; Recovered, those
	// of them that resumed a session (connection state recovery).
	Connected, Recovered uint64
	// Disconnected counts the sockets that left, by reason.
	Disconnected map[DisconnectReason]uint64
	// Broadcasts counts the broadcasts delivered to this node's sockets
	// (sent here or arriving from other nodes through the adapter), and
	// BroadcastDeliveries the sockets they were queued for: the fan-out.
	Broadcasts, BroadcastDeliveries uint64
	// Engine is the Engine.IO layer's figures.
	Engine engineio.Stats
}

// disconnectReasons are the reasons a socket leaves with, in a fixed order.
var disconnectReasons = [...]DisconnectReason{
	ReasonServerNamespaceDisconnect, ReasonClientNamespaceDisconnect, ReasonServerShuttingDown, ReasonPingTimeout,
	ReasonTransportClose, ReasonTransportError, ReasonParseError, ReasonForcedClose, ReasonForcedServerClose,
}

// counters are a server's Stats as they are counted.
type counters struct {
	sockets                atomic.Int64
	connected, recovered   atomic.Uint64
	disconnected           [len(disconnectReasons)]atomic.Uint64
	broadcasts, deliveries atomic.Uint64
}

func (n *counters) disconnectedWith(reason DisconnectReason) {
	for i, r := range disconnectReasons {
		if r == reason {
			n.disconnected[i].Add(1)
			return
		}
	}
}

// Stats returns the server's figures now.
func (s *Server) Stats() Stats {
	n := &s.counters
	st := Stats{
		Sockets: n.sockets.Load(), Connected: n.connected.Load(), Recovered: n.recovered.Load(),
		Disconnected: make(map[DisconnectReason]uint64, len(disconnectReasons)),
		Broadcasts:   n.broadcasts.Load(), BroadcastDeliveries: n.deliveries.Load(),
		Engine: s.eio.Stats(),
	}
	for i, r := range disconnectReasons {
		st.Disconnected[r] = n.disconnected[i].Load()
	}
	s.mu.RLock()
	st.Namespaces = len(s.nsps) // children of dynamic namespaces are in it too
	s.mu.RUnlock()
	return st
}
