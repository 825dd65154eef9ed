package socketio

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// BroadcastOptions selects the sockets a broadcast reaches.
type BroadcastOptions struct {
	// Rooms to reach; empty means every socket of the namespace.
	Rooms []string
	// Except skips sockets in any of these rooms. A socket id is a room.
	Except []string
	// Flags modify delivery.
	Flags BroadcastFlags
}

// BroadcastFlags modify how a broadcast is delivered.
type BroadcastFlags struct {
	// Volatile drops the packet for clients that cannot take it right now.
	Volatile bool
	// Local restricts the broadcast to this node.
	Local bool
	// NoCompress sends the packet uncompressed even where compression is
	// on (per-message deflate, compressed polling responses).
	NoCompress bool
	// Timeout bounds how long a broadcast waits for acks.
	Timeout time.Duration
}

// SocketInfo describes a socket, possibly on another node, as returned by
// FetchSockets.
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	Data      any
}

// RoomEvent is a change of room membership, reported to the handlers
// registered with Namespace.OnRoomEvent.
type RoomEvent struct {
	Kind RoomEventKind
	Room string
	ID   string // the socket joining or leaving; empty for create and delete
}

// RoomEventKind says what happened to a room.
type RoomEventKind int

// Room event kinds, named after the reference adapter's events.
const (
	RoomCreated RoomEventKind = iota // create-room
	RoomDeleted                      // delete-room
	RoomJoined                       // join-room
	RoomLeft                         // leave-room
)

// String returns the reference adapter's event name.
func (k RoomEventKind) String() string {
	return [...]string{"create-room", "delete-room", "join-room", "leave-room"}[k]
}

// Adapter keeps a namespace's room memberships and delivers its
// broadcasts. The default, MemoryAdapter, serves one node; an adapter for
// several nodes (such as the Redis adapter) forwards to the others what it
// cannot do locally, usually by embedding a MemoryAdapter.
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
	BroadcastWithAck(p *siopacket.Packet, opts BroadcastOptions, onSent func(clients int), onAck func(Args)) error

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
	ServerSideEmit(ctx context.Context, event string, args []any, wantAcks bool) ([]Args, error)
	// ServerCount returns the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)

	// Close releases the adapter's resources.
	Close() error
}

// MemoryAdapter is the single-node Adapter. Other adapters can embed it
// for local membership and delivery.
type MemoryAdapter struct {
	nsp *Namespace

	// mu guards rooms and sids, the two views of membership.
	mu    sync.RWMutex
	rooms map[string]idSet // room -> socket ids
	sids  map[string]idSet // socket id -> rooms

	recovery *recoveryState // nil unless the server recovers connections
}

var (
	_ Adapter      = (*MemoryAdapter)(nil)
	_ SessionStore = (*MemoryAdapter)(nil)
)

// NewMemoryAdapter returns the single-node adapter for n.
func NewMemoryAdapter(n *Namespace) *MemoryAdapter {
	a := &MemoryAdapter{nsp: n, rooms: map[string]idSet{}, sids: map[string]idSet{}}
	if r := n.server.opts.ConnectionStateRecovery; r != nil {
		a.recovery = &recoveryState{maxAge: r.MaxDisconnectionDuration, sessions: map[string]storedSession{}}
	}
	return a
}

// PersistSession implements SessionStore.
func (a *MemoryAdapter) PersistSession(s Session) {
	if a.recovery != nil {
		a.recovery.persist(s)
	}
}

// Record implements SessionStore.
func (a *MemoryAdapter) Record(p *siopacket.Packet, opts BroadcastOptions) error {
	if a.recovery != nil {
		a.recovery.record(p, opts)
	}
	return nil
}

// RestoreSession implements SessionStore.
func (a *MemoryAdapter) RestoreSession(pid, offset string) (Session, bool) {
	if a.recovery == nil {
		return Session{}, false
	}
	return a.recovery.restore(pid, offset)
}

// MissedSince implements SessionStore.
func (a *MemoryAdapter) MissedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	if a.recovery == nil {
		return nil, errOffsetGone
	}
	return a.recovery.missedSince(offset, rooms)
}

// Namespace returns the namespace the adapter serves.
func (a *MemoryAdapter) Namespace() *Namespace { return a.nsp }

// AddAll implements Adapter.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	var events []RoomEvent
	a.mu.Lock()
	mine := a.sids[id]
	for _, r := range rooms {
		if !mine.add(r) {
			continue
		}
		members, exists := a.rooms[r]
		if !exists {
			events = append(events, RoomEvent{Kind: RoomCreated, Room: r})
		}
		members.add(id)
		a.rooms[r] = members
		events = append(events, RoomEvent{Kind: RoomJoined, Room: r, ID: id})
	}
	a.sids[id] = mine
	a.mu.Unlock()
	a.nsp.roomEvents(events)
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	events := a.delLocked(id, room, nil)
	a.mu.Unlock()
	a.nsp.roomEvents(events)
}

func (a *MemoryAdapter) delLocked(id, room string, events []RoomEvent) []RoomEvent {
	mine := a.sids[id]
	if !mine.remove(room) {
		return events
	}
	if mine.len() == 0 {
		delete(a.sids, id)
	} else {
		a.sids[id] = mine
	}
	members := a.rooms[room]
	members.remove(id)
	events = append(events, RoomEvent{Kind: RoomLeft, Room: room, ID: id})
	if members.len() == 0 {
		delete(a.rooms, room)
		events = append(events, RoomEvent{Kind: RoomDeleted, Room: room})
	} else {
		a.rooms[room] = members
	}
	return events
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	var events []RoomEvent
	for _, room := range slices.Sorted(a.sids[id].all) {
		events = a.delLocked(id, room, events)
	}
	a.mu.Unlock()
	a.nsp.roomEvents(events)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Sorted(a.sids[id].all)
}

// Sockets implements Adapter.
func (a *MemoryAdapter) Sockets(rooms []string) []string {
	return a.selectIDs(BroadcastOptions{Rooms: rooms})
}

// selectIDs returns the local socket ids that opts selects.
func (a *MemoryAdapter) selectIDs(opts BroadcastOptions) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	excluded := func(id string) bool {
		for _, r := range opts.Except {
			if a.rooms[r].contains(id) {
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
		members := a.rooms[opts.Rooms[0]]
		ids = make([]string, 0, members.len())
		for id := range members.all {
			if !excluded(id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	seen := map[string]struct{}{}
	for _, r := range opts.Rooms {
		for id := range a.rooms[r].all {
			if _, dup := seen[id]; dup || excluded(id) {
				continue
			}
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	return ids
}

// Broadcast implements Adapter: p is encoded once and the same bytes are
// queued for every selected local socket.
func (a *MemoryAdapter) Broadcast(p *siopacket.Packet, opts BroadcastOptions) error {
	msgs, err := a.nsp.server.encodePacket(p, opts.Flags.NoCompress)
	if err != nil {
		return err
	}
	delivered := 0
	for _, id := range a.selectIDs(opts) {
		if s := a.nsp.socket(id); s != nil {
			s.sendEncoded(msgs, opts.Flags.Volatile)
			delivered++
		}
	}
	n := &a.nsp.server.counters
	n.broadcasts.Add(1)
	n.deliveries.Add(uint64(delivered))
	return nil
}

// BroadcastWithAck implements Adapter.
func (a *MemoryAdapter) BroadcastWithAck(p *siopacket.Packet, opts BroadcastOptions, onSent func(int), onAck func(Args)) error {
	msgs, err := a.nsp.server.encodePacket(p, opts.Flags.NoCompress)
	if err != nil {
		return err
	}
	sent := 0
	for _, id := range a.selectIDs(opts) {
		s := a.nsp.socket(id)
		if s == nil {
			continue
		}
		s.expectAck(p.ID, func(args Args, err error) {
			if err == nil {
				onAck(args)
			}
		})
		if s.sendEncoded(msgs, opts.Flags.Volatile) {
			sent++
		} else {
			s.dropAck(p.ID)
		}
	}
	onSent(sent)
	return nil
}

// FetchSockets implements Adapter.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	var out []SocketInfo
	for _, id := range a.selectIDs(opts) {
		if s := a.nsp.socket(id); s != nil {
			out = append(out, s.info())
		}
	}
	return out, nil
}

// AddSockets implements Adapter.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) {
	var unsaved []*Socket
	for _, id := range a.selectIDs(opts) {
		// Through the socket, not a.AddAll: a socket leaving meanwhile
		// must stay gone.
		if s := a.nsp.socket(id); s != nil && s.join(rooms, false) {
			unsaved = append(unsaved, s)
		}
	}
	saveLiveSessions(unsaved)
}

// DelSockets implements Adapter.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) {
	var unsaved []*Socket
	for _, id := range a.selectIDs(opts) {
		if s := a.nsp.socket(id); s != nil {
			// Through the socket, so that its live session is saved.
			if s.leave(rooms, false) {
				unsaved = append(unsaved, s)
			}
			continue
		}
		for _, r := range rooms {
			a.Del(id, r)
		}
	}
	saveLiveSessions(unsaved)
}

// DisconnectSockets implements Adapter.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, close bool) {
	for _, id := range a.selectIDs(opts) {
		if s := a.nsp.socket(id); s != nil {
			s.Disconnect(close)
		}
	}
}

// ServerSideEmit implements Adapter: with one node there is nobody to
// tell, so it returns no answers.
func (a *MemoryAdapter) ServerSideEmit(context.Context, string, []any, bool) ([]Args, error) {
	return nil, nil
}

// ServerCount implements Adapter.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// Close implements Adapter.
func (a *MemoryAdapter) Close() error { return nil }
