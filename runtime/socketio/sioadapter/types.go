package sioadapter

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
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

// SocketInfo describes a socket, possibly on another node, as FetchSockets
// returns it.
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	Data      any
}

// Handshake describes the request that opened a socket's connection and
// the payload of its CONNECT, as socket.handshake does in the reference.
type Handshake struct {
	Time    time.Time       // when the connection was opened
	Address string          // the client's address
	XDomain bool            // whether the request had an Origin header
	Secure  bool            // whether the connection uses TLS
	Issued  int64           // Time in milliseconds since the epoch
	URL     string          // the request URI, query included
	Auth    json.RawMessage // the CONNECT payload, "{}" when none

	// HeaderFunc, if set, returns the request's headers; Header calls it.
	// For a socket of this node it parses them from a compact copy on each
	// call, since most sockets never ask and every idle connection would
	// hold the map otherwise.
	HeaderFunc func() http.Header `json:"-"`
}

// Header returns the headers of the request that opened the connection.
func (h Handshake) Header() http.Header {
	if h.HeaderFunc == nil {
		return http.Header{}
	}
	return h.HeaderFunc()
}

// Query parses the query of the request URI. It is parsed on each call
// rather than kept, for the same reason as Header.
func (h Handshake) Query() url.Values {
	_, q, _ := strings.Cut(h.URL, "?")
	v, _ := url.ParseQuery(q)
	return v
}

// RoomEvent is a change of room membership on this node.
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
