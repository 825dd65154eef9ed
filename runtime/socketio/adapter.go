package socketio

import (
	"time"

	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// SocketInfo describes a socket, possibly on another node, as returned by
// FetchSockets.
type SocketInfo = sioadapter.SocketInfo

// Handshake describes the request that opened a socket's connection and
// the payload of its CONNECT.
type Handshake = sioadapter.Handshake

// RoomEvent is a change of room membership, reported to the handlers
// registered with Namespace.OnRoomEvent.
type RoomEvent = sioadapter.RoomEvent

// RoomEventKind says what happened to a room.
type RoomEventKind = sioadapter.RoomEventKind

// Room event kinds, named after the reference adapter's events.
const (
	RoomCreated = sioadapter.RoomCreated // create-room
	RoomDeleted = sioadapter.RoomDeleted // delete-room
	RoomJoined  = sioadapter.RoomJoined  // join-room
	RoomLeft    = sioadapter.RoomLeft    // leave-room
)

// adapterHost is the namespace as its adapter sees it (sioadapter.Host):
// a view of Namespace that keeps the adapter's side of the boundary off
// the namespace's public methods.
type adapterHost Namespace

var _ sioadapter.Host = (*adapterHost)(nil)

func (h *adapterHost) nsp() *Namespace { return (*Namespace)(h) }

// Name implements sioadapter.Host.
func (h *adapterHost) Name() string { return h.name }

// Server implements sioadapter.Host.
func (h *adapterHost) Server() any { return h.server }

// RecoveryWindow implements sioadapter.Host.
func (h *adapterHost) RecoveryWindow() time.Duration {
	if r := h.server.opts.ConnectionStateRecovery; r != nil {
		return r.MaxDisconnectionDuration
	}
	return 0
}

// NewAckID implements sioadapter.Host.
func (h *adapterHost) NewAckID() uint64 { return h.nsp().newAckID() }

// Send implements sioadapter.Host.
func (h *adapterHost) Send(p *siopacket.Packet, ids []string, flags sioadapter.BroadcastFlags, onAck func(Args)) (int, error) {
	msgs, err := h.server.encodePacket(p, flags.NoCompress)
	if err != nil {
		return 0, err
	}
	sent := 0
	// The sockets are looked up a batch at a time under one read lock:
	// a lock per recipient was a tenth of a fan-out's cost.
	var batch [256]*Socket
	for len(ids) > 0 {
		k := min(len(ids), len(batch))
		found := h.nsp().socketsOf(batch[:0], ids[:k])
		ids = ids[k:]
		for _, s := range found {
			if onAck == nil {
				s.sendEncoded(msgs, flags.Volatile)
				sent++
				continue
			}
			s.expectAck(p.ID, func(args Args, err error) {
				if err == nil {
					onAck(args)
				}
			})
			if s.sendEncoded(msgs, flags.Volatile) {
				sent++
			} else {
				s.dropAck(p.ID)
			}
		}
		clear(found)
	}
	if onAck == nil {
		n := &h.server.counters
		n.broadcasts.Add(1)
		n.deliveries.Add(uint64(sent))
	}
	return sent, nil
}

// Describe implements sioadapter.Host.
func (h *adapterHost) Describe(ids []string) []SocketInfo {
	var out []SocketInfo
	for _, id := range ids {
		if s := h.nsp().socket(id); s != nil {
			out = append(out, s.info())
		}
	}
	return out
}

// Join implements sioadapter.Host.
func (h *adapterHost) Join(ids, rooms []string) {
	var unsaved []*Socket
	for _, id := range ids {
		// Through the socket, not the adapter's AddAll: a socket leaving
		// meanwhile must stay gone.
		if s := h.nsp().socket(id); s != nil && s.join(rooms, false) {
			unsaved = append(unsaved, s)
		}
	}
	saveLiveSessions(unsaved)
}

// Leave implements sioadapter.Host.
func (h *adapterHost) Leave(ids, rooms []string) {
	var unsaved []*Socket
	for _, id := range ids {
		if s := h.nsp().socket(id); s != nil {
			// Through the socket, so that its live session is saved.
			if s.leave(rooms, false) {
				unsaved = append(unsaved, s)
			}
			continue
		}
		for _, r := range rooms {
			h.adapter.Del(id, r)
		}
	}
	saveLiveSessions(unsaved)
}

// Disconnect implements sioadapter.Host.
func (h *adapterHost) Disconnect(ids []string, close bool) {
	for _, id := range ids {
		if s := h.nsp().socket(id); s != nil {
			s.Disconnect(close)
		}
	}
}

// RoomsChanged implements sioadapter.Host.
func (h *adapterHost) RoomsChanged(events []RoomEvent) { h.nsp().roomEvents(events) }

// ServerSideEmit implements sioadapter.Host.
func (h *adapterHost) ServerSideEmit(event string, args Args, ack func(args ...any) error) {
	h.nsp().dispatchServerSideEmit(event, args, ack)
}
