package socketio

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// Middleware vets a socket joining a namespace. An error refuses it: the
// client gets the error's message (and a *ConnectError's Data) in its
// connect_error event. Middleware runs on the connection's read goroutine.
type Middleware func(s *Socket) error

// Namespace is a communication channel that sockets join; one connection
// can join several. Create them with Server.Of or Server.OfFunc.
type Namespace struct {
	name    string
	server  *Server
	adapter sioadapter.Adapter
	parent  *Namespace // for children of a dynamic namespace

	// ackIDs numbers the acks of broadcasts.
	ackIDs atomic.Uint64

	// handlers serve events for all the namespace's sockets (Handle).
	handlers nspHandlers

	// mu guards the fields below.
	mu           sync.RWMutex
	sockets      map[string]*Socket
	byPID        map[string]*Socket // connected sockets by private session id, made on first use
	middleware   []Middleware
	onConnection []func(*Socket)
	onRoomEvent  []func(RoomEvent)
	onServerSide map[string][]func(args Args, ack Ack)
	children     map[string]*Namespace // dynamic namespaces created under this one
	match        func(name string, auth json.RawMessage) bool
}

func newNamespace(srv *Server, name string) *Namespace {
	n := &Namespace{name: name, server: srv, sockets: map[string]*Socket{}}
	n.adapter = srv.opts.Adapter((*adapterHost)(n))
	return n
}

// newAckID returns a fresh ack id for a broadcast with acks; adapters
// number with it those arriving from other nodes.
func (n *Namespace) newAckID() uint64 { return n.ackIDs.Add(1) }

// Name returns the namespace name, such as "/" or "/admin".
func (n *Namespace) Name() string { return n.name }

// Server returns the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.server }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() sioadapter.Adapter { return n.adapter }

// Use adds middleware, run in order for every socket joining. Middleware
// of a dynamic namespace applies to the namespaces it creates.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middleware = append(n.middleware, m)
	n.mu.Unlock()
}

// OnConnection registers h for every socket that joins, after middleware
// has accepted it and the client has been told. It runs on the
// connection's read goroutine: register the socket's handlers there.
func (n *Namespace) OnConnection(h func(s *Socket)) {
	n.mu.Lock()
	n.onConnection = append(n.onConnection, h)
	n.mu.Unlock()
}

// OnRoomEvent registers h for room creation, deletion, joins and leaves.
// It is called synchronously by the adapter and must not block.
func (n *Namespace) OnRoomEvent(h func(RoomEvent)) {
	n.mu.Lock()
	n.onRoomEvent = append(n.onRoomEvent, h)
	n.mu.Unlock()
}

func (n *Namespace) roomEvents(events []RoomEvent) {
	if len(events) == 0 {
		return
	}
	n.mu.RLock()
	hs := n.onRoomEvent
	n.mu.RUnlock()
	for _, e := range events {
		for _, h := range hs {
			h(e)
		}
	}
}

// OnServerSideEmit registers h for events that other nodes send with
// ServerSideEmit. ack is nil unless the sender waits for answers.
func (n *Namespace) OnServerSideEmit(event string, h func(args Args, ack Ack)) {
	n.mu.Lock()
	if n.onServerSide == nil {
		n.onServerSide = map[string][]func(Args, Ack){}
	}
	n.onServerSide[event] = append(n.onServerSide[event], h)
	n.mu.Unlock()
}

// dispatchServerSideEmit hands an event from another node to the handlers
// registered with OnServerSideEmit.
func (n *Namespace) dispatchServerSideEmit(event string, args Args, ack Ack) {
	n.mu.RLock()
	hs := n.onServerSide[event]
	n.mu.RUnlock()
	for _, h := range hs {
		h(args, ack)
	}
}

// ServerSideEmit sends an event to this namespace on every other node.
// ctx bounds the hand-over to the adapter.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	_, err := n.adapter.ServerSideEmit(ctx, event, args, false)
	return err
}

// ServerSideEmitWithAck sends an event to every other node and gathers
// their answers until ctx is done.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.adapter.ServerSideEmit(ctx, event, args, true)
}

// Sockets returns the sockets connected to this namespace on this node.
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// Socket returns the local socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket { return n.socket(id) }

func (n *Namespace) socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// socketsOf appends to dst the sockets of ids that are connected here,
// looked up under one read lock.
func (n *Namespace) socketsOf(dst []*Socket, ids []string) []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, id := range ids {
		if s := n.sockets[id]; s != nil {
			dst = append(dst, s)
		}
	}
	return dst
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	n.server.counters.sockets.Add(1)
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	removed := n.sockets[s.id] == s
	if removed {
		delete(n.sockets, s.id)
	}
	if s.pid != "" && n.byPID[s.pid] == s {
		delete(n.byPID, s.pid)
	}
	n.mu.Unlock()
	if removed {
		n.server.counters.sockets.Add(-1)
	}
}

// addPID makes s, once connected, the socket that holds its session
// here, unless it has left meanwhile: remove, which runs after the socket
// stops being connected, takes the lock too, so no closed socket stays.
// (Lock order: the namespace's, then the socket's.)
func (n *Namespace) addPID(s *Socket) {
	if s.pid == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !s.Connected() {
		return
	}
	if n.byPID == nil {
		n.byPID = map[string]*Socket{}
	}
	n.byPID[s.pid] = s
}

// socketByPID returns the connected socket of this node that holds the
// session pid, or nil.
func (n *Namespace) socketByPID(pid string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byPID[pid]
}

func (n *Namespace) operator() BroadcastOperator { return BroadcastOperator{nsp: n} }

// To selects rooms to broadcast to.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// Except selects every socket but those in rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.operator().Except(rooms...) }

// Volatile selects every socket, dropping the packet for those that cannot
// take it right now.
func (n *Namespace) Volatile() BroadcastOperator { return n.operator().Volatile() }

// Compress selects every socket, choosing whether the packet may be
// compressed.
func (n *Namespace) Compress(enabled bool) BroadcastOperator { return n.operator().Compress(enabled) }

// Local selects every socket on this node only.
func (n *Namespace) Local() BroadcastOperator { return n.operator().Local() }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitWithAck sends an event to every socket and gathers their acks.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.operator().EmitWithAck(ctx, event, args...)
}

// FetchSockets describes every socket of the namespace, on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin makes every socket join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) { n.operator().SocketsJoin(rooms...) }

// SocketsLeave makes every socket leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) { n.operator().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket.
func (n *Namespace) DisconnectSockets(close bool) { n.operator().DisconnectSockets(close) }

// runMiddleware runs middleware for a new socket: the parent's first for a
// child of a dynamic namespace.
func (n *Namespace) runMiddleware(s *Socket) error {
	var chain []Middleware
	if n.parent != nil {
		n.parent.mu.RLock()
		chain = append(chain, n.parent.middleware...)
		n.parent.mu.RUnlock()
	}
	n.mu.RLock()
	chain = append(chain, n.middleware...)
	n.mu.RUnlock()
	for _, m := range chain {
		if err := m(s); err != nil {
			return err
		}
	}
	return nil
}

func (n *Namespace) connectionHandlers() []func(*Socket) {
	var hs []func(*Socket)
	if n.parent != nil {
		n.parent.mu.RLock()
		hs = append(hs, n.parent.onConnection...)
		n.parent.mu.RUnlock()
	}
	n.mu.RLock()
	hs = append(hs, n.onConnection...)
	n.mu.RUnlock()
	return hs
}
