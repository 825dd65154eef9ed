package sioadapter

import (
	"slices"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// recordingHost is a Host whose sockets are ids in a set; it records what
// the adapter asks of it.
type recordingHost struct {
	window time.Duration
	sent   [][]string // ids of each Send
	events []RoomEvent
}

func (h *recordingHost) Name() string                  { return "/" }
func (h *recordingHost) Server() any                   { return h }
func (h *recordingHost) RecoveryWindow() time.Duration { return h.window }
func (h *recordingHost) NewAckID() uint64              { return 1 }
func (h *recordingHost) Send(_ *siopacket.Packet, ids []string, _ BroadcastFlags, _ func(siopacket.Args)) (int, error) {
	h.sent = append(h.sent, slices.Sorted(slices.Values(ids)))
	return len(ids), nil
}
func (h *recordingHost) Describe(ids []string) []SocketInfo { return nil }
func (h *recordingHost) Join(ids, rooms []string)           {}
func (h *recordingHost) Leave(ids, rooms []string)          {}
func (h *recordingHost) Disconnect([]string, bool)          {}
func (h *recordingHost) RoomsChanged(events []RoomEvent)    { h.events = append(h.events, events...) }
func (h *recordingHost) ServerSideEmit(string, siopacket.Args, func(...any) error) {
}

func TestMemorySelectsByRoomsAndExcept(t *testing.T) {
	h := &recordingHost{}
	a := NewMemory(h)
	a.AddAll("a", []string{"a", "red"})
	a.AddAll("b", []string{"b", "red", "blue"})
	a.AddAll("c", []string{"c", "blue"})
	for _, tc := range []struct {
		opts BroadcastOptions
		want []string
	}{
		{BroadcastOptions{}, []string{"a", "b", "c"}},
		{BroadcastOptions{Rooms: []string{"red"}}, []string{"a", "b"}},
		{BroadcastOptions{Rooms: []string{"red", "blue"}}, []string{"a", "b", "c"}},
		{BroadcastOptions{Rooms: []string{"red", "blue"}, Except: []string{"b"}}, []string{"a", "c"}},
		{BroadcastOptions{Except: []string{"blue"}}, []string{"a"}},
		{BroadcastOptions{Rooms: []string{"green"}}, []string{}},
	} {
		h.sent = nil
		if err := a.Broadcast(&siopacket.Packet{}, tc.opts); err != nil {
			t.Fatal(err)
		}
		if len(h.sent) != 1 || !slices.Equal(h.sent[0], tc.want) {
			t.Errorf("Broadcast(%+v) reached %v, want %v", tc.opts, h.sent, tc.want)
		}
	}
}

func TestMemoryReportsRoomEvents(t *testing.T) {
	h := &recordingHost{}
	a := NewMemory(h)
	a.AddAll("s1", []string{"r"})
	a.AddAll("s2", []string{"r"})
	a.Del("s1", "r")
	a.DelAll("s2")
	want := []RoomEvent{
		{Kind: RoomCreated, Room: "r"}, {Kind: RoomJoined, Room: "r", ID: "s1"},
		{Kind: RoomJoined, Room: "r", ID: "s2"},
		{Kind: RoomLeft, Room: "r", ID: "s1"},
		{Kind: RoomLeft, Room: "r", ID: "s2"}, {Kind: RoomDeleted, Room: "r"},
	}
	if !slices.Equal(h.events, want) {
		t.Fatalf("events = %v, want %v", h.events, want)
	}
	if rooms := a.SocketRooms("s2"); len(rooms) != 0 {
		t.Fatalf("s2 still in %v", rooms)
	}
}

func TestMemoryStoreRestoresOnceWithKnownOffset(t *testing.T) {
	a := NewMemory(&recordingHost{window: time.Minute})
	first := event(t)
	if err := a.Record(&first, BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	offset := lastArg(t, &first)
	a.PersistSession(Session{SID: "s", PID: "p", Rooms: []string{"s", "red"}})
	for _, opts := range []BroadcastOptions{{Rooms: []string{"red"}}, {Rooms: []string{"blue"}}, {Except: []string{"red"}}, {}} {
		p := event(t)
		_ = a.Record(&p, opts)
	}
	if _, ok := a.RestoreSession("p", "unknown"); ok {
		t.Fatal("restored with an unknown offset")
	}
	a.PersistSession(Session{SID: "s", PID: "p", Rooms: []string{"s", "red"}})
	s, ok := a.RestoreSession("p", offset)
	if !ok || s.SID != "s" {
		t.Fatalf("RestoreSession = %+v, %v", s, ok)
	}
	if _, again := a.RestoreSession("p", offset); again {
		t.Fatal("a session was restored twice")
	}
	missed, err := a.MissedSince(offset, s.Rooms)
	if err != nil || len(missed) != 2 { // to red, and to everyone
		t.Fatalf("MissedSince = %d packets, %v; want 2", len(missed), err)
	}
	if _, err := a.MissedSince("unknown", s.Rooms); err != ErrOffsetGone {
		t.Fatalf("MissedSince(unknown) err = %v, want ErrOffsetGone", err)
	}
}

func TestMemoryWithoutRecoveryKeepsNothing(t *testing.T) {
	a := NewMemory(&recordingHost{})
	p := event(t)
	_ = a.Record(&p, BroadcastOptions{})
	if _, args, _ := siopacket.ParseEvent(&p); args.Len() != 0 {
		t.Fatal("a broadcast was stamped with an offset without recovery")
	}
	a.PersistSession(Session{PID: "p"})
	if _, ok := a.RestoreSession("p", ""); ok {
		t.Fatal("restored a session without recovery")
	}
}

func event(t *testing.T) siopacket.Packet {
	t.Helper()
	p, err := siopacket.NewEvent("/", "news", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lastArg(t *testing.T, p *siopacket.Packet) string {
	t.Helper()
	_, args, err := siopacket.ParseEvent(p)
	if err != nil || args.Len() == 0 {
		t.Fatalf("ParseEvent: %d args, %v", args.Len(), err)
	}
	var s string
	if err := args.Decode(args.Len()-1, &s); err != nil || s == "" {
		t.Fatalf("no offset on the recorded packet: %v", err)
	}
	return s
}

func TestSharedIsOnePerServer(t *testing.T) {
	var s Shared[*int]
	made := 0
	create := func() *int { made++; v := made; return &v }
	a1 := s.Acquire("a", create)
	a2 := s.Acquire("a", create)
	b := s.Acquire("b", create)
	if a1 != a2 || a1 == b || made != 2 {
		t.Fatalf("a1=%p a2=%p b=%p made=%d", a1, a2, b, made)
	}
	if s.Release("a") {
		t.Fatal("first release of a reported last")
	}
	if !s.Release("a") || !s.Release("b") || s.Release("b") {
		t.Fatal("last releases misreported")
	}
	if c := s.Acquire("a", create); c == a1 {
		t.Fatal("a released value was handed out again")
	}
}

// TestMemoryRoomNamedAfterASocket covers the own room, which the adapter
// keeps implicitly: other sockets may join a room named after a socket,
// the socket may leave its own room and come back, and membership, room
// events and selection stay what they would be for any room.
func TestMemoryRoomNamedAfterASocket(t *testing.T) {
	h := &recordingHost{}
	a := NewMemory(h)
	a.AddAll("a", []string{"a", "red", "blue"})
	a.AddAll("b", []string{"b", "a"})
	reach := func(opts BroadcastOptions) []string {
		h.sent = nil
		if err := a.Broadcast(&siopacket.Packet{}, opts); err != nil {
			t.Fatal(err)
		}
		return h.sent[0]
	}
	if got := reach(BroadcastOptions{Rooms: []string{"a"}}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("room a reaches %v, want [a b]", got)
	}
	if got := reach(BroadcastOptions{Except: []string{"a"}}); len(got) != 0 {
		t.Errorf("everyone but room a reaches %v, want nobody", got)
	}
	if got := a.SocketRooms("b"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("b is in %v, want [a b]", got)
	}

	h.events = nil
	a.Del("a", "a") // a leaves its own room; b is still in it
	a.Del("a", "a") // nothing to leave
	if got := reach(BroadcastOptions{Rooms: []string{"a"}}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("room a reaches %v after a left it, want [b]", got)
	}
	if got := reach(BroadcastOptions{Rooms: []string{"red"}, Except: []string{"a"}}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("red but room a reaches %v, want [a]", got)
	}
	a.Del("b", "a")
	a.AddAll("a", []string{"a"}) // back into its own room, which is new again
	want := []RoomEvent{
		{Kind: RoomLeft, Room: "a", ID: "a"},
		{Kind: RoomLeft, Room: "a", ID: "b"},
		{Kind: RoomDeleted, Room: "a"},
		{Kind: RoomCreated, Room: "a"},
		{Kind: RoomJoined, Room: "a", ID: "a"},
	}
	if !slices.Equal(h.events, want) {
		t.Errorf("events %+v\nwant %+v", h.events, want)
	}
	a.DelAll("a")
	a.DelAll("b")
	if len(a.rooms) != 0 || len(a.sids) != 0 {
		t.Errorf("left behind: rooms %v, sids %v", a.rooms, a.sids)
	}
}
