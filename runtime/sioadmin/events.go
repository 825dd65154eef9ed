package sioadmin

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
)

// serializedSocket is a socket as the UI shows it.
type serializedSocket struct {
	ID        string              `json:"id"`
	ClientID  string              `json:"clientId"`
	Transport string              `json:"transport"`
	Nsp       string              `json:"nsp"`
	Data      any                 `json:"data"`
	Handshake serializedHandshake `json:"handshake"`
	Rooms     []string            `json:"rooms"`
}

// serializedHandshake is a socket's handshake without its auth payload,
// which the UI is not shown.
type serializedHandshake struct {
	Address string            `json:"address"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Issued  int64             `json:"issued"`
	Secure  bool              `json:"secure"`
	Time    string            `json:"time"`
	URL     string            `json:"url"`
	XDomain bool              `json:"xdomain"`
}

func serializeHandshake(h socketio.Handshake) serializedHandshake {
	headers := map[string]string{}
	for k, v := range h.Header() {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	query := map[string]string{}
	for k, v := range h.Query() {
		if len(v) > 0 {
			query[k] = v[0]
		}
	}
	address := h.Address
	// Behind a proxy, the client's address as the proxy saw it.
	if v := headers["cf-connecting-ip"]; v != "" {
		address = v
	} else if v := headers["x-forwarded-for"]; v != "" {
		address = v
	}
	return serializedHandshake{
		Address: address, Headers: headers, Query: query, Issued: h.Issued, Secure: h.Secure,
		Time: h.Time.Format(time.RFC1123Z), URL: h.URL, XDomain: h.XDomain,
	}
}

// serialize describes a socket of this node.
func serialize(s *socketio.Socket) serializedSocket {
	conn := s.Conn()
	return serializedSocket{
		ID: s.ID(), ClientID: clientID(conn.ID()), Transport: conn.Transport(), Nsp: s.Namespace().Name(),
		Data: dataOf(s.Data()), Handshake: serializeHandshake(s.Handshake()), Rooms: s.Rooms(),
	}
}

// clientID names a connection as the reference does: its session id's
// first 12 characters, the same for all its sockets.
func clientID(sid string) string {
	if len(sid) > 12 {
		return sid[:12]
	}
	return sid
}

// dataOf is a socket's data as the UI expects it: an object.
func dataOf(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

// allSockets describes every socket of every namespace, on every node
// (remote ones through the adapter, with what it knows of them).
func (a *Admin) allSockets() []serializedSocket {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) //sio:root-context
	defer cancel()
	out := []serializedSocket{}
	for _, n := range a.srv.Namespaces() {
		infos, err := n.FetchSockets(ctx)
		if err != nil {
			for _, s := range n.Sockets() {
				out = append(out, serialize(s))
			}
			continue
		}
		for _, info := range infos {
			if s := n.Socket(info.ID); s != nil {
				out = append(out, serialize(s))
				continue
			}
			out = append(out, serializedSocket{
				ID: info.ID, ClientID: clientID(info.ID), Transport: engineio.TransportWebSocket, Nsp: n.Name(),
				Data: dataOf(info.Data), Handshake: serializeHandshake(info.Handshake), Rooms: info.Rooms,
			})
		}
	}
	return out
}

// watch sends the UI what happens in namespace n: sockets connecting and
// leaving, room changes, and (outside the admin namespace) every event
// received and sent.
func (a *Admin) watch(n *socketio.Namespace) {
	nspName := n.Name()
	admin := nspName == a.opts.Namespace
	n.OnConnection(func(s *socketio.Socket) {
		connected := serialize(s)
		a.broadcast("socket_connected", connected, now())
		if connected.Transport != engineio.TransportWebSocket {
			s.Conn().OnUpgrade(func() {
				a.broadcast("socket_updated", map[string]string{"id": s.ID(), "nsp": nspName, "transport": engineio.TransportWebSocket})
			})
		}
		s.OnDisconnect(func(s *socketio.Socket, reason socketio.DisconnectReason) {
			a.broadcast("socket_disconnected", nspName, s.ID(), string(reason), now())
		})
		if admin {
			return
		}
		s.OnAny(func(s *socketio.Socket, event string, args socketio.Args) {
			a.broadcast("event_received", nspName, s.ID(), eventArgs(event, args), now())
		})
		s.OnAnyOutgoing(func(s *socketio.Socket, event string, args socketio.Args) {
			a.broadcast("event_sent", nspName, s.ID(), eventArgs(event, args), now())
		})
	})
	n.OnRoomEvent(func(e socketio.RoomEvent) {
		switch e.Kind {
		case socketio.RoomJoined:
			a.broadcast("room_joined", nspName, e.Room, e.ID, now())
		case socketio.RoomLeft:
			a.broadcast("room_left", nspName, e.Room, e.ID, now())
		}
	})
}

// eventArgs is an event as the UI lists it: its name, then its arguments;
// binary ones are named, not sent.
func eventArgs(event string, args socketio.Args) []any {
	out := make([]any, 0, args.Len()+1)
	out = append(out, event)
	for i := range args.Len() {
		if b, ok := args.Bytes(i); ok {
			out = append(out, map[string]any{"binary": len(b)})
			continue
		}
		if raw := args.Raw(i); json.Valid(raw) {
			out = append(out, json.RawMessage(raw))
		}
	}
	return out
}

// broadcast sends an event to every UI, on every node.
func (a *Admin) broadcast(event string, args ...any) {
	_ = a.nsp.Emit(event, args...)
}

// now is a timestamp as the UI reads it (an ISO string).
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// aggregatedEvent is one bucket of the dashboard's charts.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     uint64 `json:"count"`
}

// namespaceStats is a namespace's sockets on this node.
type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// serverStats is what each node sends every StatsInterval.
type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"`
	ClientsCount        int64             `json:"clientsCount"`
	PollingClientsCount int64             `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

// sendStats sends the server stats at once and then every StatsInterval,
// with what happened since the last (connections, disconnections by
// reason, packets and bytes each way) as the dashboard's aggregates.
func (a *Admin) sendStats() {
	host, _ := os.Hostname()
	prev := a.srv.Stats().Engine
	ticker := time.NewTicker(a.opts.StatsInterval)
	defer ticker.Stop()
	for {
		cur := a.srv.Stats().Engine
		st := serverStats{
			ServerID: a.opts.ServerID, Hostname: host, PID: os.Getpid(), Uptime: time.Since(a.started).Seconds(),
			ClientsCount: cur.PollingSessions + cur.WebSocketSessions, PollingClientsCount: cur.PollingSessions,
			AggregatedEvents: aggregate(prev, cur, time.Now()), Namespaces: []namespaceStats{},
		}
		for _, n := range a.srv.Namespaces() {
			st.Namespaces = append(st.Namespaces, namespaceStats{Name: n.Name(), SocketsCount: len(n.Sockets())})
		}
		prev = cur
		a.broadcast("server_stats", st)
		select {
		case <-ticker.C:
		case <-a.stop:
			return
		}
	}
}

// aggregate turns the change from prev to cur into the UI's buckets, all
// stamped with the second of at.
func aggregate(prev, cur engineio.Stats, at time.Time) []aggregatedEvent {
	ts := at.Truncate(time.Second).UnixMilli()
	out := []aggregatedEvent{}
	add := func(kind, sub string, n uint64) {
		if n > 0 {
			out = append(out, aggregatedEvent{Timestamp: ts, Type: kind, SubType: sub, Count: n})
		}
	}
	var closed uint64
	for reason, n := range cur.Closed {
		d := n - prev.Closed[reason]
		closed += d
		add("rawDisconnection", string(reason), d)
	}
	open := (cur.PollingSessions + cur.WebSocketSessions) - (prev.PollingSessions + prev.WebSocketSessions)
	add("rawConnection", "", uint64(max(open+int64(closed), 0)))
	add("packetsIn", "", cur.MessagesReceived-prev.MessagesReceived)
	add("bytesIn", "", cur.BytesReceived-prev.BytesReceived)
	add("packetsOut", "", cur.MessagesSent-prev.MessagesSent)
	add("bytesOut", "", cur.BytesSent-prev.BytesSent)
	return out
}

// memorySessions keeps session ids in memory until they expire.
type memorySessions struct {
	ttl time.Duration
	mu  sync.Mutex
	ids map[string]time.Time // id -> expiry
}

func newMemorySessions(ttl time.Duration) *memorySessions {
	return &memorySessions{ttl: ttl, ids: map[string]time.Time{}}
}

func (m *memorySessions) Save(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := time.Now()
	for k, exp := range m.ids {
		if t.After(exp) {
			delete(m.ids, k)
		}
	}
	m.ids[id] = t.Add(m.ttl)
}

func (m *memorySessions) Exists(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.ids[id]
	return ok && time.Now().Before(exp)
}

// UIHandler serves the Admin UI's files (the ui/dist directory of the
// @socket.io/admin-ui npm package, as an fs.FS) under a path of your
// mux, for example mux.Handle("/admin-ui/", http.StripPrefix("/admin-ui",
// sioadmin.UIHandler(os.DirFS(".../ui/dist")))). The UI connects to the
// server whose URL its login form is given.
func UIHandler(dist fs.FS) http.Handler { return http.FileServerFS(dist) }
