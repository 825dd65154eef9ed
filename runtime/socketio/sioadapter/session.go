package sioadapter

import (
	"errors"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Session is what connection state recovery keeps of a disconnected
// socket.
type Session struct {
	SID   string   // the socket id, given back on recovery
	PID   string   // the private session id the client presents
	Rooms []string // the rooms, its own included
	Data  any      // the socket's data
}

// SessionStore is an optional Adapter capability for connection state
// recovery: it keeps the sessions of disconnected sockets and the
// broadcasts they may miss. Memory has it for one node; a multi-node
// adapter provides one shared by every node, so that a client can resume
// on any of them.
//
// A socket resumes in two steps, so that no broadcast falls between them:
// the session is taken, the socket joins its rooms (holding what reaches
// it from then on), and only then are the broadcasts it missed read; those
// it receives both ways are sent once, by offset.
type SessionStore interface {
	// Record keeps a broadcast before it is sent, and stamps it with its
	// offset as the last argument, which every recipient then sees. The
	// namespace calls it only for Recordable broadcasts.
	Record(p *siopacket.Packet, opts BroadcastOptions) error
	// PersistSession keeps s for the host's RecoveryWindow.
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

// ErrOffsetGone is MissedSince's answer for an offset no longer kept.
var ErrOffsetGone = errors.New("sioadapter: the recovery offset is no longer kept")

// Recordable reports whether recovery keeps a broadcast: an event without
// ack that is not volatile, as the reference does.
func Recordable(p *siopacket.Packet, opts BroadcastOptions) bool {
	return (p.Type == siopacket.Event || p.Type == siopacket.BinaryEvent) && !p.HasID && !opts.Flags.Volatile
}
