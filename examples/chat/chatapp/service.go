package chatapp

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// Limits on what clients may send.
const (
	maxNameLen = 32
	maxTextLen = 500
)

// chatService implements the generated ChatServiceServer: rooms whose
// members have names unique in the room, messages stored with ids, the
// room's recent messages replayed to each new subscriber, and a live feed
// per room. A message that calls on the whole room is sent only once its
// sender confirms, asked through the ChatClientService the page serves.
type chatService struct {
	chatv1sio.UnimplementedChatServiceServer
	srv *socketio.Server
	cfg config

	// mu guards the fields below. Nothing is sent while it is held.
	mu      sync.Mutex
	nextID  uint64
	rooms   *rooms
	typists *typists
	history *history
}

func newChatService(srv *socketio.Server, cfg config) *chatService {
	return &chatService{srv: srv, cfg: cfg, rooms: newRooms(), typists: newTypists(), history: newHistory(cfg.historySize, cfg.historyRooms)}
}

// cleanName trims name and checks it is one a person could read.
func cleanName(kind, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", rpc.Errorf(rpc.CodeInvalidArgument, "%s is required", kind)
	case len(name) > maxNameLen:
		return "", rpc.Errorf(rpc.CodeInvalidArgument, "%s is longer than %d characters", kind, maxNameLen)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", rpc.Errorf(rpc.CodeInvalidArgument, "%s contains control characters", kind)
	}
	return name, nil
}

// Join puts the caller in a room and returns who is there, the caller
// first, under the name the room knows it by: a name someone else in the
// room already has gets a number, "ann (2)". Others see a notice in the
// room's feed. A page that reconnects joins again under the name it got.
func (c *chatService) Join(ctx context.Context, req *chatv1.JoinRequest) (*chatv1.JoinResponse, error) {
	room, err := cleanName("room", req.GetRoom())
	if err != nil {
		return nil, err
	}
	want, err := cleanName("user", req.GetUser())
	if err != nil {
		return nil, err
	}
	ci, _ := rpc.CallInfoFromContext(ctx)
	c.mu.Lock()
	prev, wasIn := c.rooms.of(ci.Socket)
	if wasIn && prev == (membership{room, want}) {
		members := c.rooms.members(room)
		c.mu.Unlock()
		return &chatv1.JoinResponse{Members: callerFirst(want, members)}, nil
	}
	if wasIn {
		c.rooms.leave(ci.Socket)
	} else {
		ci.Socket.OnDisconnect(func(s *socketio.Socket, _ socketio.DisconnectReason) { c.leave(s) })
	}
	m := c.rooms.join(ci.Socket, room, want)
	var before []string
	if wasIn {
		before = c.rooms.members(prev.room)
		c.movedLocked(ci.Socket, prev.room)
	} else {
		c.movedLocked(ci.Socket, room)
	}
	members := c.rooms.members(room)
	c.mu.Unlock()
	if wasIn {
		c.notice(prev.room, prev.name+" left", before)
	}
	c.notice(room, m.name+" joined", members)
	return &chatv1.JoinResponse{Members: callerFirst(m.name, members)}, nil
}

// callerFirst returns members with name moved to the front.
func callerFirst(name string, members []string) []string {
	out := []string{name}
	for _, m := range members {
		if m != name {
			out = append(out, m)
		}
	}
	return out
}

// leave takes a disconnected socket out of its room.
func (c *chatService) leave(s *socketio.Socket) {
	c.mu.Lock()
	m, ok := c.rooms.leave(s)
	members := c.rooms.members(m.room)
	if ok {
		c.movedLocked(s, m.room)
	}
	c.mu.Unlock()
	if ok {
		c.notice(m.room, m.name+" left", members)
	}
}

// notice publishes a message from nobody to the room's feed, with the
// room's members after the change it reports. Notices are not kept in the
// history.
func (c *chatService) notice(room, text string, members []string) {
	c.publish(&chatv1.ChatMessage{Room: room, Text: text}, members)
}

// publish gives m its id and time, keeps it in the history if a person
// sent it, and sends it to the room's feed.
func (c *chatService) publish(m *chatv1.ChatMessage, members []string) uint64 {
	c.mu.Lock()
	c.nextID++
	m.Id, m.SentUnixMs = c.nextID, time.Now().UnixMilli()
	if m.GetUser() != "" {
		c.history.add(m)
	}
	c.mu.Unlock()
	_ = chatv1sio.PublishChatServiceWatchRoom(c.srv, m.GetRoom(), &chatv1.WatchRoomResponse{Message: m, Members: members})
	return m.GetId()
}

// SendMessage stores a message of a member of the room and publishes it;
// the ack carries the id it was stored under. A message that mentions
// everyone (@everyone, @all, @here, @room) is first put to its sender to
// confirm; anything but a yes in time leaves it unsent (CodeAborted).
func (c *chatService) SendMessage(ctx context.Context, req *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	text := strings.TrimSpace(req.GetText())
	switch {
	case text == "":
		return nil, rpc.Errorf(rpc.CodeInvalidArgument, "message is empty")
	case len(text) > maxTextLen:
		return nil, rpc.Errorf(rpc.CodeInvalidArgument, "message is longer than %d characters", maxTextLen)
	}
	ci, _ := rpc.CallInfoFromContext(ctx)
	c.mu.Lock()
	m, ok := c.rooms.of(ci.Socket)
	others := len(c.rooms.members(m.room)) - 1
	c.mu.Unlock()
	if !ok || m.room != strings.TrimSpace(req.GetRoom()) {
		return nil, rpc.Errorf(rpc.CodeFailedPrecondition, "join room %q before sending to it", req.GetRoom())
	}
	if mentionsEveryone(text) {
		if err := confirmMassMention(ctx, ci.Socket, m.room, others, c.cfg.confirmTimeout); err != nil {
			return nil, err
		}
		// The sender may have left while deciding.
		c.mu.Lock()
		now, still := c.rooms.of(ci.Socket)
		c.mu.Unlock()
		if !still || now.room != m.room {
			return nil, rpc.Errorf(rpc.CodeFailedPrecondition, "not sent: you left #%s", m.room)
		}
		m = now
	}
	id := c.publish(&chatv1.ChatMessage{Room: m.room, User: m.name, Text: text}, nil)
	c.mu.Lock()
	c.setTypingLocked(ci.Socket, false) // a message sent is typing done
	c.mu.Unlock()
	return &chatv1.SendMessageResponse{Id: id}, nil
}

// WatchRoom subscribes the caller to a room's feed, and first sends it the
// room's recent messages.
func (c *chatService) WatchRoom(ctx context.Context, req *chatv1.WatchRoomRequest) (string, error) {
	room, err := cleanName("room", req.GetRoom())
	if err != nil {
		return "", err
	}
	ci, _ := rpc.CallInfoFromContext(ctx)
	c.replayHistory(ci.Socket, room)
	return room, nil
}

// replayHistory sends s the recent messages of room on the WatchRoom
// stream it is subscribing to. The generated code publishes to a whole
// room only, so this writes the stream's wire events (runtime/rpc's
// PROTOCOL.md) to s alone; the client keeps them until the subscription's
// ack names their key, and hands them out first.
//
// s joins the stream's room before the history is read: a message stored
// after that read reaches s live, so none is missed. One stored just
// before may come both ways; the page drops the repeat by its id.
func (c *chatService) replayHistory(s *socketio.Socket, room string) {
	key := rpc.StreamKey(chatv1sio.ChatServiceWatchRoomEvent, room)
	s.Join(key)
	c.mu.Lock()
	past := c.history.recent(room)
	c.mu.Unlock()
	for _, m := range past {
		b, err := proto.Marshal(&chatv1.WatchRoomResponse{Message: m})
		if err != nil {
			continue
		}
		_ = s.Emit(rpc.StreamMessageEvent, key, b)
	}
}
