package chatapp

import (
	"context"
	"errors"
	"io"
	"slices"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// typists tracks who is typing and the Typing streams that listen. It is
// not safe for concurrent use; the service's lock guards it.
type typists struct {
	typing    map[*socketio.Socket]bool
	listeners map[*socketio.Socket]chan struct{} // one Typing stream per socket: told of changes
}

func newTypists() *typists {
	return &typists{typing: map[*socketio.Socket]bool{}, listeners: map[*socketio.Socket]chan struct{}{}}
}

// in returns who in room is typing, sorted, but for the one that asks.
func (t *typists) in(r *rooms, room string, asking *socketio.Socket) []string {
	var out []string
	for name, s := range r.names[room] {
		if s != asking && t.typing[s] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// changed tells the listeners in room that its typists may have changed.
// The signal is a channel of one: a listener behind on its sends reads the
// latest state once.
func (t *typists) changed(r *rooms, room string) {
	for _, s := range r.names[room] {
		t.tell(s)
	}
}

// tell signals s's listener, if it has one, that it may have news.
func (t *typists) tell(s *socketio.Socket) {
	if ch, ok := t.listeners[s]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Typing serves the caller's Typing stream: what it receives sets whether
// the caller types in its room, and it sends the room's typists, the
// caller left out, whenever they change (and once at the start). A socket
// has at most one Typing stream; a second one ends the first.
func (c *chatService) Typing(ctx context.Context, stream *rpc.BidiStream[*chatv1.TypingRequest, *chatv1.TypingResponse]) error {
	ci, _ := rpc.CallInfoFromContext(ctx)
	s := ci.Socket
	notify := make(chan struct{}, 1)
	notify <- struct{}{} // the state at the start
	c.mu.Lock()
	if old, ok := c.typists.listeners[s]; ok {
		close(old)
	}
	c.typists.listeners[s] = notify
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.typists.listeners[s] == notify {
			delete(c.typists.listeners, s)
		}
		c.setTypingLocked(s, false)
		c.mu.Unlock()
	}()

	received := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Receive()
			if err != nil {
				received <- err
				return
			}
			c.mu.Lock()
			c.setTypingLocked(s, req.GetTyping())
			c.mu.Unlock()
		}
	}()
	var last []string
	sent := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-received:
			if errors.Is(err, io.EOF) {
				return nil // the page closed its side: done
			}
			return err
		case _, open := <-notify:
			if !open {
				return rpc.Errorf(rpc.CodeAborted, "another Typing stream of this connection replaced this one")
			}
			c.mu.Lock()
			m, _ := c.rooms.of(s)
			now := c.typists.in(c.rooms, m.room, s)
			c.mu.Unlock()
			if sent && slices.Equal(now, last) {
				continue
			}
			if err := stream.Send(&chatv1.TypingResponse{Typing: now}); err != nil {
				return err
			}
			last, sent = now, true
		}
	}
}

// setTypingLocked records whether s is typing and tells its room. c.mu
// is held.
func (c *chatService) setTypingLocked(s *socketio.Socket, typing bool) {
	if c.typists.typing[s] == typing {
		return
	}
	if typing {
		c.typists.typing[s] = true
	} else {
		delete(c.typists.typing, s)
	}
	if m, ok := c.rooms.of(s); ok {
		c.typists.changed(c.rooms, m.room)
	}
}

// movedLocked updates the typists after s left room from (and perhaps
// joined another): it stops typing, and the listeners of both rooms look
// again (a listener in the new room sees its new room's typists). c.mu is
// held; call it after the move.
func (c *chatService) movedLocked(s *socketio.Socket, from string) {
	delete(c.typists.typing, s)
	c.typists.changed(c.rooms, from)
	if m, ok := c.rooms.of(s); ok {
		c.typists.changed(c.rooms, m.room)
	}
	c.typists.tell(s)
}
