package sioadapter

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// memoryStore is Memory's SessionStore: sessions and recorded broadcasts,
// kept for maxAge.
type memoryStore struct {
	maxAge time.Duration

	// mu guards sessions and packets.
	mu       sync.Mutex
	sessions map[string]storedSession
	packets  []storedPacket // in broadcast order
}

type storedSession struct {
	Session
	disconnectedAt time.Time
}

type storedPacket struct {
	offset string
	opts   BroadcastOptions
	packet siopacket.Packet // with the offset as last argument
	at     time.Time
}

// newOffset returns an unguessable broadcast offset.
func newOffset() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// record stamps a broadcast with an offset and keeps it.
func (r *memoryStore) record(p *siopacket.Packet, opts BroadcastOptions) {
	offset := newOffset()
	siopacket.AppendStringArg(p, offset)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	r.packets = append(r.packets, storedPacket{offset: offset, opts: opts, packet: *p, at: now})
}

// pruneLocked drops what has expired. It runs on writes, so the store
// needs no timer of its own.
func (r *memoryStore) pruneLocked(now time.Time) {
	threshold := now.Add(-r.maxAge)
	i := 0
	for i < len(r.packets) && r.packets[i].at.Before(threshold) {
		i++
	}
	if i > 0 {
		r.packets = slices.Delete(r.packets, 0, i)
	}
	for pid, s := range r.sessions {
		if s.disconnectedAt.Before(threshold) {
			delete(r.sessions, pid)
		}
	}
}

func (r *memoryStore) persist(s Session) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	r.sessions[s.PID] = storedSession{Session: s, disconnectedAt: now}
}

func (r *memoryStore) restore(pid, offset string) (Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[pid]
	if !ok {
		return Session{}, false
	}
	delete(r.sessions, pid)
	if time.Since(s.disconnectedAt) > r.maxAge || r.indexLocked(offset) < 0 {
		return Session{}, false // expired, or the offset is unknown or too old
	}
	return s.Session, true
}

func (r *memoryStore) missedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	index := r.indexLocked(offset)
	if index < 0 {
		return nil, ErrOffsetGone
	}
	var missed []*siopacket.Packet
	for _, p := range r.packets[index+1:] {
		if p.opts.Reaches(rooms) {
			pkt := p.packet
			missed = append(missed, &pkt)
		}
	}
	return missed, nil
}

// indexLocked returns the position of the packet with offset, or -1.
func (r *memoryStore) indexLocked(offset string) int {
	return slices.IndexFunc(r.packets, func(p storedPacket) bool { return p.offset == offset })
}
