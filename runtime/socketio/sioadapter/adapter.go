// Package sioadapter is the boundary between a Socket.IO namespace and the
// adapter that keeps its rooms and carries its broadcasts: the Adapter
// interface an adapter implements, the Host interface through which it
// reaches the namespace's local sockets, and Memory, the single-node
// adapter that multi-node adapters embed for what stays on their node.
//
// An adapter for a broker is a Factory: given a namespace's Host, it
// returns an Adapter, usually a struct that embeds a *Memory and overrides
// the methods that must reach other nodes (Broadcast, BroadcastWithAck,
// FetchSockets, AddSockets, DelSockets, DisconnectSockets, ServerSideEmit,
// ServerCount, Close). It needs nothing of package socketio; socketio's
// Options.Adapter takes the Factory.
package sioadapter

import (
	"context"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Factory creates the adapter of one namespace. The server calls it once
// per namespace, with that namespace's Host.
type Factory func(h Host) Adapter

// Adapter keeps a namespace's room memberships and delivers its
// broadcasts. Memory serves one node; an adapter for several nodes
// forwards to the others what it cannot do locally.
//
// Methods may be called from many goroutines at once.
type Adapter interface {
	// AddAll adds socket id to rooms.
	AddAll(id string, rooms []string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from every room.
	DelAll(id string)
	// SocketRooms returns the rooms of a local socket.
	SocketRooms(id string) []string
	// Sockets returns the ids of local sockets in any of rooms (all local
	// sockets if rooms is empty).
	Sockets(rooms []string) []string

	// Broadcast sends p to the sockets opts selects, on every node unless
	// opts.Flags.Local.
	Broadcast(p *siopacket.Packet, opts BroadcastOptions) error
	// BroadcastWithAck is Broadcast for a packet with an ack id: onSent
	// reports, once per node that handled it (ServerCount of them), how
	// many clients the packet went to there, and onAck is called for each
	// client's ack.
	BroadcastWithAck(p *siopacket.Packet, opts BroadcastOptions, onSent func(clients int), onAck func(siopacket.Args)) error

	// FetchSockets describes the sockets opts selects.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the sockets opts selects join rooms.
	AddSockets(opts BroadcastOptions, rooms []string)
	// DelSockets makes the sockets opts selects leave rooms.
	DelSockets(opts BroadcastOptions, rooms []string)
	// DisconnectSockets disconnects the sockets opts selects.
	DisconnectSockets(opts BroadcastOptions, close bool)

	// ServerSideEmit sends an event to the same namespace on the other
	// nodes. With wantAcks it waits (until ctx is done) for each node's
	// answer and returns them.
	ServerSideEmit(ctx context.Context, event string, args []any, wantAcks bool) ([]siopacket.Args, error)
	// ServerCount returns the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)

	// Close releases the adapter's resources.
	Close() error
}

// Host is the namespace an adapter serves, as the adapter sees it: its
// identity, its settings, and what the adapter may do to the sockets
// connected to it on this node. Sockets are named by id; an id with no
// local socket (one that has just left) is skipped. Methods may be called
// from many goroutines at once, but not with a lock held that the
// adapter's own methods take: joining and leaving call back into the
// adapter.
type Host interface {
	// Name returns the namespace's name, such as "/" or "/chat".
	Name() string
	// Server identifies the server the namespace belongs to: the hosts of
	// one server's namespaces return the same comparable value, so that an
	// adapter can share one broker connection among them.
	Server() any
	// RecoveryWindow returns how long connection state recovery keeps the
	// session of a disconnected socket, or 0 if the server does not
	// recover connections.
	RecoveryWindow() time.Duration
	// NewAckID returns a fresh ack id, for a broadcast with acks that
	// arrives from another node (each node numbers its own copy).
	NewAckID() uint64

	// Send encodes p once and queues it for the local sockets ids, and
	// returns how many it was queued for; with flags.Volatile a socket
	// that cannot take it now is skipped. If onAck is not nil, p carries an
	// ack id and onAck gets each client's answer.
	Send(p *siopacket.Packet, ids []string, flags BroadcastFlags, onAck func(siopacket.Args)) (int, error)
	// Describe describes the local sockets ids.
	Describe(ids []string) []SocketInfo
	// Join makes the local sockets ids join rooms, and returns once the
	// sessions of those that connection state recovery keeps alive are
	// saved.
	Join(ids, rooms []string)
	// Leave makes sockets ids leave rooms, as Join; an id whose socket is
	// gone is removed from the rooms all the same.
	Leave(ids, rooms []string)
	// Disconnect disconnects the local sockets ids; with close, their
	// whole connections.
	Disconnect(ids []string, close bool)
	// RoomsChanged hands membership changes to the namespace's room event
	// handlers, in order. It must not be called with an adapter lock held.
	RoomsChanged(events []RoomEvent)
	// ServerSideEmit hands an event from another node to the namespace's
	// server-side handlers. ack is nil unless the sender waits for answers.
	ServerSideEmit(event string, args siopacket.Args, ack func(args ...any) error)
}
