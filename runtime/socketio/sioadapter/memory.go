package sioadapter

import (
	"context"
	"slices"
	"sync"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Memory is the single-node Adapter, and a SessionStore when its host
// recovers connections. Multi-node adapters embed it for local membership
// and delivery.
type Memory struct {
	host Host

	// mu guards rooms and sids, the two views of membership. A socket's
	// own room (the one named after its id) is only in sids: every socket
	// has one, and a second map entry per socket was most of what an idle
	// connection's membership cost. rooms holds the other members of a
	// room named after a socket, if any join it.
	mu    sync.RWMutex
	rooms map[string]idSet // room -> socket ids, but the socket the room is named after
	sids  map[string]idSet // socket id -> rooms

	recovery *memoryStore // nil unless the host recovers connections
}

var (
	_ Adapter      = (*Memory)(nil)
	_ SessionStore = (*Memory)(nil)
)

// NewMemory returns the single-node adapter of h's namespace.
func NewMemory(h Host) *Memory {
	a := &Memory{host: h, rooms: map[string]idSet{}, sids: map[string]idSet{}}
	if window := h.RecoveryWindow(); window > 0 {
		a.recovery = &memoryStore{maxAge: window, sessions: map[string]storedSession{}}
	}
	return a
}

// PersistSession implements SessionStore.
func (a *Memory) PersistSession(s Session) {
	if a.recovery != nil {
		a.recovery.persist(s)
	}
}

// Record implements SessionStore.
func (a *Memory) Record(p *siopacket.Packet, opts BroadcastOptions) error {
	if a.recovery != nil {
		a.recovery.record(p, opts)
	}
	return nil
}

// RestoreSession implements SessionStore.
func (a *Memory) RestoreSession(pid, offset string) (Session, bool) {
	if a.recovery == nil {
		return Session{}, false
	}
	return a.recovery.restore(pid, offset)
}

// MissedSince implements SessionStore.
func (a *Memory) MissedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	if a.recovery == nil {
		return nil, ErrOffsetGone
	}
	return a.recovery.missedSince(offset, rooms)
}

// AddAll implements Adapter.
func (a *Memory) AddAll(id string, rooms []string) {
	var events []RoomEvent
	a.mu.Lock()
	for _, r := range rooms {
		mine := a.sids[id]
		if mine.contains(r) {
			continue
		}
		if !a.existsLocked(r) { // before the add, which may change a shared map
			events = append(events, RoomEvent{Kind: RoomCreated, Room: r})
		}
		mine.add(r)
		a.sids[id] = mine
		if r != id {
			members := a.rooms[r]
			members.add(id)
			a.rooms[r] = members
		}
		events = append(events, RoomEvent{Kind: RoomJoined, Room: r, ID: id})
	}
	a.mu.Unlock()
	a.roomsChanged(events)
}

// Del implements Adapter.
func (a *Memory) Del(id, room string) {
	a.mu.Lock()
	events := a.delLocked(id, room, nil)
	a.mu.Unlock()
	a.roomsChanged(events)
}

func (a *Memory) delLocked(id, room string, events []RoomEvent) []RoomEvent {
	mine := a.sids[id]
	if !mine.remove(room) {
		return events
	}
	if mine.len() == 0 {
		delete(a.sids, id)
	} else {
		a.sids[id] = mine
	}
	if room != id {
		members := a.rooms[room]
		members.remove(id)
		if members.len() == 0 {
			delete(a.rooms, room)
		} else {
			a.rooms[room] = members
		}
	}
	events = append(events, RoomEvent{Kind: RoomLeft, Room: room, ID: id})
	if !a.existsLocked(room) {
		events = append(events, RoomEvent{Kind: RoomDeleted, Room: room})
	}
	return events
}

// ownMemberLocked reports whether the socket a room is named after is in
// it.
func (a *Memory) ownMemberLocked(room string) bool {
	mine, ok := a.sids[room]
	return ok && mine.contains(room)
}

// existsLocked reports whether room has a member.
func (a *Memory) existsLocked(room string) bool {
	return a.rooms[room].len() > 0 || a.ownMemberLocked(room)
}

// inRoomLocked reports whether socket id is in room.
func (a *Memory) inRoomLocked(id, room string) bool {
	if id == room {
		return a.ownMemberLocked(room)
	}
	return a.rooms[room].contains(id)
}

// membersLocked yields the members of room.
func (a *Memory) membersLocked(room string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		if a.ownMemberLocked(room) && !yield(room) {
			return
		}
		a.rooms[room].all(yield)
	}
}

// DelAll implements Adapter.
func (a *Memory) DelAll(id string) {
	a.mu.Lock()
	var events []RoomEvent
	for _, room := range slices.Sorted(a.sids[id].all) {
		events = a.delLocked(id, room, events)
	}
	a.mu.Unlock()
	a.roomsChanged(events)
}

func (a *Memory) roomsChanged(events []RoomEvent) {
	if len(events) > 0 {
		a.host.RoomsChanged(events)
	}
}

// SocketRooms implements Adapter.
func (a *Memory) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Sorted(a.sids[id].all)
}

// Sockets implements Adapter.
func (a *Memory) Sockets(rooms []string) []string {
	return a.selectIDs(BroadcastOptions{Rooms: rooms})
}

// selectIDs returns the ids of the local sockets that opts selects (its
// Rooms and Except; not its Flags).
func (a *Memory) selectIDs(opts BroadcastOptions) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	excluded := func(id string) bool {
		for _, r := range opts.Except {
			if a.inRoomLocked(id, r) {
				return true
			}
		}
		return false
	}
	var ids []string
	if len(opts.Rooms) == 0 {
		ids = make([]string, 0, len(a.sids))
		for id := range a.sids {
			if !excluded(id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	if len(opts.Rooms) == 1 {
		room := opts.Rooms[0]
		ids = make([]string, 0, a.rooms[room].len()+1)
		for id := range a.membersLocked(room) {
			if !excluded(id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	seen := map[string]struct{}{}
	for _, r := range opts.Rooms {
		for id := range a.membersLocked(r) {
			if _, dup := seen[id]; dup || excluded(id) {
				continue
			}
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	return ids
}

// Broadcast implements Adapter for this node's sockets: p is encoded once
// and the same bytes are queued for every one selected.
func (a *Memory) Broadcast(p *siopacket.Packet, opts BroadcastOptions) error {
	_, err := a.host.Send(p, a.selectIDs(opts), opts.Flags, nil)
	return err
}

// BroadcastWithAck implements Adapter for this node's sockets.
func (a *Memory) BroadcastWithAck(p *siopacket.Packet, opts BroadcastOptions, onSent func(int), onAck func(siopacket.Args)) error {
	sent, err := a.host.Send(p, a.selectIDs(opts), opts.Flags, onAck)
	if err != nil {
		return err
	}
	onSent(sent)
	return nil
}

// FetchSockets implements Adapter for this node's sockets.
func (a *Memory) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	return a.host.Describe(a.selectIDs(opts)), nil
}

// AddSockets implements Adapter for this node's sockets.
func (a *Memory) AddSockets(opts BroadcastOptions, rooms []string) {
	a.host.Join(a.selectIDs(opts), rooms)
}

// DelSockets implements Adapter for this node's sockets.
func (a *Memory) DelSockets(opts BroadcastOptions, rooms []string) {
	a.host.Leave(a.selectIDs(opts), rooms)
}

// DisconnectSockets implements Adapter for this node's sockets.
func (a *Memory) DisconnectSockets(opts BroadcastOptions, close bool) {
	a.host.Disconnect(a.selectIDs(opts), close)
}

// ServerSideEmit implements Adapter: with one node there is nobody to
// tell, so it returns no answers.
func (a *Memory) ServerSideEmit(context.Context, string, []any, bool) ([]siopacket.Args, error) {
	return nil, nil
}

// ServerCount implements Adapter.
func (a *Memory) ServerCount(context.Context) (int, error) { return 1, nil }

// Close implements Adapter.
func (a *Memory) Close() error { return nil }
