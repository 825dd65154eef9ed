package engineio

import "sync/atomic"

// Stats are what a server has done since it started, and its sessions
// now: the figures a metrics exporter reads (sio's Prometheus collector
// does, at each scrape). Counting costs an atomic add per message.
type Stats struct {
	// Sessions open now, by transport.
	PollingSessions, WebSocketSessions int64
	// Upgrades is how many polling sessions moved to WebSocket.
	Upgrades uint64
	// Closed counts the sessions that ended, by reason.
	Closed map[CloseReason]uint64
	// Messages and bytes of data received from and queued to clients
	// (Engine.IO message packets: Socket.IO packets and their attachments).
	MessagesReceived, BytesReceived uint64
	MessagesSent, BytesSent         uint64
	// QueuedBytes is the data queued now for clients that have not taken it
	// yet, over all sessions (the queue depth; each is bounded by
	// MaxPendingBytes). Stats walks the sessions to sum it.
	QueuedBytes int64
}

// closeReasons are the reasons a session ends with, in a fixed order.
var closeReasons = [...]CloseReason{ReasonTransportClose, ReasonTransportError, ReasonParseError, ReasonPingTimeout, ReasonForcedClose, ReasonServerShutdown}

// counters are a server's Stats as they are counted.
type counters struct {
	polling, websocket atomic.Int64
	upgrades           atomic.Uint64
	closed             [len(closeReasons)]atomic.Uint64
	msgsIn, bytesIn    atomic.Uint64
	msgsOut, bytesOut  atomic.Uint64
}

func (n *counters) sessions(transport string) *atomic.Int64 {
	if transport == TransportWebSocket {
		return &n.websocket
	}
	return &n.polling
}

func (n *counters) closedWith(reason CloseReason) {
	for i, r := range closeReasons {
		if r == reason {
			n.closed[i].Add(1)
			return
		}
	}
}

// Stats returns the server's figures now.
func (s *Server) Stats() Stats {
	n := &s.counters
	st := Stats{
		PollingSessions: n.polling.Load(), WebSocketSessions: n.websocket.Load(),
		Upgrades: n.upgrades.Load(), Closed: make(map[CloseReason]uint64, len(closeReasons)),
		MessagesReceived: n.msgsIn.Load(), BytesReceived: n.bytesIn.Load(),
		MessagesSent: n.msgsOut.Load(), BytesSent: n.bytesOut.Load(),
	}
	for i, r := range closeReasons {
		st.Closed[r] = n.closed[i].Load()
	}
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		st.QueuedBytes += int64(c.out.bytes + c.out.sending)
		c.mu.Unlock()
	}
	return st
}
