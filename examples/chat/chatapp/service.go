package chatapp

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

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

// chatService implements the generated ChatServiceServer: rooms with
// members, stored messages with ids, and a live feed per room.
type chatService struct {
	chatv1sio.UnimplementedChatServiceServer
	srv *socketio.Server

	// mu guards the fields below.
	mu      sync.Mutex
	nextID  uint64
	members map[string]map[string]int // room -> user -> sockets of that user in it
	joined  map[*socketio.Socket]membership
}

// membership is where one socket has joined, and as whom.
type membership struct{ room, user string }

func newChatService(srv *socketio.Server) *chatService {
	return &chatService{srv: srv, members: map[string]map[string]int{}, joined: map[*socketio.Socket]membership{}}
}

func validName(kind, name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return rpc.Errorf(rpc.CodeInvalidArgument, "%s is required", kind)
	case len(name) > maxNameLen:
		return rpc.Errorf(rpc.CodeInvalidArgument, "%s is longer than %d characters", kind, maxNameLen)
	}
	return nil
}

// Join puts the caller in a room, as user, and returns who is there. Others
// see a notice in the room's feed.
func (c *chatService) Join(ctx context.Context, req *chatv1.JoinRequest) (*chatv1.JoinResponse, error) {
	if err := validName("room", req.GetRoom()); err != nil {
		return nil, err
	}
	if err := validName("user", req.GetUser()); err != nil {
		return nil, err
	}
	ci, _ := rpc.CallInfoFromContext(ctx)
	room, user := strings.TrimSpace(req.GetRoom()), strings.TrimSpace(req.GetUser())
	c.mu.Lock()
	if prev, ok := c.joined[ci.Socket]; ok {
		c.leaveLocked(prev)
	} else {
		ci.Socket.OnDisconnect(func(s *socketio.Socket, _ socketio.DisconnectReason) { c.leave(s) })
	}
	c.joined[ci.Socket] = membership{room, user}
	if c.members[room] == nil {
		c.members[room] = map[string]int{}
	}
	c.members[room][user]++
	members := c.memberListLocked(room)
	c.mu.Unlock()
	c.notice(room, user+" joined", members)
	return &chatv1.JoinResponse{Members: members}, nil
}

func (c *chatService) memberListLocked(room string) []string {
	var out []string
	for u := range c.members[room] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func (c *chatService) leave(s *socketio.Socket) {
	c.mu.Lock()
	m, ok := c.joined[s]
	var members []string
	if ok {
		delete(c.joined, s)
		c.leaveLocked(m)
		members = c.memberListLocked(m.room)
	}
	c.mu.Unlock()
	if ok {
		c.notice(m.room, m.user+" left", members)
	}
}

func (c *chatService) leaveLocked(m membership) {
	if c.members[m.room][m.user]--; c.members[m.room][m.user] <= 0 {
		delete(c.members[m.room], m.user)
	}
	if len(c.members[m.room]) == 0 {
		delete(c.members, m.room)
	}
}

// notice publishes a message from nobody to the room's feed, with the
// room's members after the change it reports.
func (c *chatService) notice(room, text string, members []string) {
	c.publish(room, "", text, members)
}

func (c *chatService) publish(room, user, text string, members []string) uint64 {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	_ = chatv1sio.PublishChatServiceWatchRoom(c.srv, room, &chatv1.WatchRoomResponse{
		Message: &chatv1.ChatMessage{Id: id, Room: room, User: user, Text: text, SentUnixMs: time.Now().UnixMilli()},
		Members: members,
	})
	return id
}

// SendMessage stores a message of a member of the room and publishes it;
// the ack carries the id it was stored under.
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
	m, ok := c.joined[ci.Socket]
	c.mu.Unlock()
	if !ok || m.room != req.GetRoom() {
		return nil, rpc.Errorf(rpc.CodeFailedPrecondition, "join room %q before sending to it", req.GetRoom())
	}
	return &chatv1.SendMessageResponse{Id: c.publish(m.room, m.user, text, nil)}, nil
}

// WatchRoom subscribes the caller to a room's feed.
func (c *chatService) WatchRoom(_ context.Context, req *chatv1.WatchRoomRequest) (string, error) {
	if err := validName("room", req.GetRoom()); err != nil {
		return "", err
	}
	return strings.TrimSpace(req.GetRoom()), nil
}
