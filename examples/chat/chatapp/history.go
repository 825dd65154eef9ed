package chatapp

import (
	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
)

// history keeps the last messages of each room in memory, for whoever
// joins later. It holds at most maxRooms rooms: a new room pushes out the
// one that has been quiet longest. It is not safe for concurrent use; the
// service's lock guards it.
type history struct {
	perRoom  int
	maxRooms int
	rooms    map[string]*roomLog
	tick     uint64 // counts appends, to tell which room was active last
}

// roomLog is one room's recent messages, oldest first, and when it last
// received one.
type roomLog struct {
	messages []*chatv1.ChatMessage
	active   uint64
}

func newHistory(perRoom, maxRooms int) *history {
	return &history{perRoom: perRoom, maxRooms: maxRooms, rooms: map[string]*roomLog{}}
}

// add records m as the newest message of its room.
func (h *history) add(m *chatv1.ChatMessage) {
	if h.perRoom <= 0 {
		return
	}
	log := h.rooms[m.GetRoom()]
	if log == nil {
		if len(h.rooms) >= h.maxRooms {
			h.evictQuietest()
		}
		log = &roomLog{}
		h.rooms[m.GetRoom()] = log
	}
	h.tick++
	log.active = h.tick
	if len(log.messages) == h.perRoom {
		// Shift rather than reslice, so the backing array stays perRoom long.
		copy(log.messages, log.messages[1:])
		log.messages = log.messages[:h.perRoom-1]
	}
	log.messages = append(log.messages, m)
}

// recent returns a copy of room's messages, oldest first. The messages
// themselves are shared: nobody modifies one once it is published.
func (h *history) recent(room string) []*chatv1.ChatMessage {
	log := h.rooms[room]
	if log == nil {
		return nil
	}
	return append([]*chatv1.ChatMessage(nil), log.messages...)
}

func (h *history) evictQuietest() {
	var quietest string
	var oldest uint64
	for room, log := range h.rooms {
		if quietest == "" || log.active < oldest {
			quietest, oldest = room, log.active
		}
	}
	delete(h.rooms, quietest)
}
