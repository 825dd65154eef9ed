package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// RecoveryOptions turns on connection state recovery, as socket.io 4.6+
// does it: a client that reconnects within MaxDisconnectionDuration gets
// its socket id, rooms and data back, and every broadcast it missed.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a session is kept. Default 2m.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs namespace middleware again on recovery (the
	// reference skips it by default).
	RunMiddlewares bool
}

// Session is what recovery keeps of a disconnected socket.
type Session struct {
	SID   string   // the socket id, given back on recovery
	PID   string   // the private session id the client presents
	Rooms []string // the rooms, its own included
	Data  any      // Socket.Data
}

// SessionStore is an optional Adapter capability for connection state
// recovery: it keeps the sessions of disconnected sockets and the
// broadcasts they may miss. MemoryAdapter has it for one node; a
// multi-node adapter provides one shared by every node, so that a client
// can resume on any of them.
//
// A socket resumes in two steps, so that no broadcast falls between them:
// the session is taken, the socket joins its rooms (holding what reaches
// it from then on), and only then are the broadcasts it missed read; those
// it receives both ways are sent once, by offset.
type SessionStore interface {
	// Record keeps a broadcast before it is sent, and stamps it with its
	// offset as the last argument, which every recipient then sees.
	Record(p *siopacket.Packet, opts BroadcastOptions) error
	// PersistSession keeps s for MaxDisconnectionDuration.
	PersistSession(s Session)
	// RestoreSession takes the session pid names, if it and offset are
	// both still known. A session is restored at most once.
	RestoreSession(pid, offset string) (Session, bool)
	// MissedSince returns, in broadcast order, the broadcasts recorded
	// after offset that reach a socket in rooms. It fails if offset is no
	// longer known, since some of them may then be gone.
	MissedSince(offset string, rooms []string) ([]*siopacket.Packet, error)
}

// LiveSessionStore is an optional SessionStore capability: the store also
// keeps the sessions of sockets that are still connected, so that they
// survive the crash of their node. (A node that stops cleanly persists its
// sessions as its sockets disconnect; a killed one cannot.) The socket
// saves its session when it connects, before its CONNECT is sent, and
// every time it joins or leaves rooms, before Join or Leave returns: a
// client told of a subscription after a Join finds the room in the session
// it recovers on another node. The session's Data is as of the last save.
type LiveSessionStore interface {
	SessionStore
	// KeepLiveSession saves the session of a connected socket, replacing
	// what was saved of it before.
	KeepLiveSession(s Session)
	// DropLiveSession forgets the session pid: its socket left for good.
	// (One that may come back is persisted with PersistSession instead.)
	DropLiveSession(pid string)
}

// errOffsetGone is MissedSince's answer for an offset no longer kept.
var errOffsetGone = errors.New("socketio: the recovery offset is no longer kept")

// Recordable reports whether recovery keeps a broadcast: an event without
// ack that is not volatile, as the reference does.
func Recordable(p *siopacket.Packet, opts BroadcastOptions) bool {
	return (p.Type == siopacket.Event || p.Type == siopacket.BinaryEvent) && !p.HasID && !opts.Flags.Volatile
}

// Reaches reports whether a broadcast with these options would reach a
// socket that is in rooms.
func (opts BroadcastOptions) Reaches(rooms []string) bool {
	included := len(opts.Rooms) == 0
	for _, r := range rooms {
		if slices.Contains(opts.Except, r) {
			return false
		}
		if slices.Contains(opts.Rooms, r) {
			included = true
		}
	}
	return included
}

// recoverable lists the disconnect reasons after which a session is kept:
// losses, not goodbyes.
var recoverable = []DisconnectReason{ReasonTransportError, ReasonTransportClose, ReasonForcedClose,
	ReasonPingTimeout, ReasonServerShuttingDown, ReasonForcedServerClose}

func newPrivateID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// recoveryState is the memory adapter's store.
type recoveryState struct {
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

// record stamps a broadcast with an offset and keeps it.
func (r *recoveryState) record(p *siopacket.Packet, opts BroadcastOptions) {
	offset := newPrivateID()
	siopacket.AppendStringArg(p, offset)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	r.packets = append(r.packets, storedPacket{offset: offset, opts: opts, packet: *p, at: now})
}

// pruneLocked drops what has expired. It runs on writes, so the store
// needs no timer of its own.
func (r *recoveryState) pruneLocked(now time.Time) {
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

func (r *recoveryState) persist(s Session) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	r.sessions[s.PID] = storedSession{Session: s, disconnectedAt: now}
}

func (r *recoveryState) restore(pid, offset string) (Session, bool) {
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

func (r *recoveryState) missedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	index := r.indexLocked(offset)
	if index < 0 {
		return nil, errOffsetGone
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
func (r *recoveryState) indexLocked(offset string) int {
	return slices.IndexFunc(r.packets, func(p storedPacket) bool { return p.offset == offset })
}
