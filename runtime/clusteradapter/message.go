package clusteradapter

import (
	"fmt"

	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// MessageType is the kind of a Message, numbered as the reference's
// MessageType enum is.
type MessageType int

// The protocol's message types.
const (
	InitialHeartbeat       MessageType = iota + 1 // a node starts: every node answers with a heartbeat
	Heartbeat                                     // a node is alive
	Broadcast                                     // a broadcast, with a request id when it wants acks
	SocketsJoin                                   // sockets join rooms
	SocketsLeave                                  // sockets leave rooms
	DisconnectSockets                             // sockets are disconnected
	FetchSockets                                  // a request for sockets
	FetchSocketsResponse                          // one node's sockets
	ServerSideEmit                                // an event for the other nodes, with a request id when it wants answers
	ServerSideEmitResponse                        // one node's answer to a server-side emit
	BroadcastClientCount                          // how many of a node's clients a broadcast with acks went to
	BroadcastAck                                  // one client's ack of a broadcast
	AdapterClose                                  // a node leaves
)

// String returns the reference's name of t.
func (t MessageType) String() string {
	names := [...]string{"INITIAL_HEARTBEAT", "HEARTBEAT", "BROADCAST", "SOCKETS_JOIN", "SOCKETS_LEAVE",
		"DISCONNECT_SOCKETS", "FETCH_SOCKETS", "FETCH_SOCKETS_RESPONSE", "SERVER_SIDE_EMIT",
		"SERVER_SIDE_EMIT_RESPONSE", "BROADCAST_CLIENT_COUNT", "BROADCAST_ACK", "ADAPTER_CLOSE"}
	if t < 1 || int(t) > len(names) {
		return fmt.Sprintf("MessageType(%d)", int(t))
	}
	return names[t-1]
}

// IsResponse reports whether t answers a request: such messages go to the
// requesting node alone, through Transport.PublishResponse.
func (t MessageType) IsResponse() bool {
	switch t {
	case FetchSocketsResponse, ServerSideEmitResponse, BroadcastClientCount, BroadcastAck:
		return true
	}
	return false
}

// Message is one message of the protocol. A transport encodes it as it
// likes: its fields carry json and msgpack tags with the reference's
// names, and binary data is []byte, so that encoding/json (for messages
// without binary) and a msgpack codec both write what the reference's
// nodes read.
type Message struct {
	UID  string      `json:"uid" msgpack:"uid"`   // the sending node
	Nsp  string      `json:"nsp" msgpack:"nsp"`   // the namespace
	Type MessageType `json:"type" msgpack:"type"` // what Data holds
	// Data is nil or a pointer to the payload of Type, a value NewData
	// returns; decode a received message's data into NewData(Type).
	Data any `json:"data,omitempty" msgpack:"data,omitempty"`
}

// NewData returns a pointer to an empty payload of type t, to decode a
// received message's data into, or nil for a type without data. The
// payload's fields are exported for codecs, not for callers: read a
// message through its methods.
func NewData(t MessageType) any {
	switch t {
	case Broadcast:
		return &broadcastData{}
	case SocketsJoin, SocketsLeave, DisconnectSockets:
		return &roomsData{}
	case FetchSockets, ServerSideEmit:
		return &requestData{}
	case FetchSocketsResponse, ServerSideEmitResponse, BroadcastClientCount, BroadcastAck:
		return &responseData{}
	}
	return nil
}

// broadcastData is the payload of a broadcast.
type broadcastData struct {
	Packet    *adapterwire.Packet `json:"packet" msgpack:"packet"`
	Opts      *adapterwire.Opts   `json:"opts" msgpack:"opts"`
	RequestID string              `json:"requestId,omitempty" msgpack:"requestId,omitempty"`
}

// roomsData is the payload of the join, leave and disconnect requests.
type roomsData struct {
	Opts  *adapterwire.Opts `json:"opts" msgpack:"opts"`
	Rooms []any             `json:"rooms,omitempty" msgpack:"rooms,omitempty"`
	Close bool              `json:"close,omitempty" msgpack:"close,omitempty"`
}

// requestData is the payload of a fetch, with its opts, or of a
// server-side emit, with its packet: [event, args...].
type requestData struct {
	Opts      *adapterwire.Opts `json:"opts,omitempty" msgpack:"opts,omitempty"`
	RequestID string            `json:"requestId,omitempty" msgpack:"requestId,omitempty"`
	Packet    []any             `json:"packet,omitempty" msgpack:"packet,omitempty"`
}

// responseData is the payload of every answer; which fields count depends
// on the type. ClientCount is always sent: zero clients is an answer.
type responseData struct {
	RequestID   string `json:"requestId" msgpack:"requestId"`
	ClientCount *int   `json:"clientCount,omitempty" msgpack:"clientCount,omitempty"`
	Packet      any    `json:"packet,omitempty" msgpack:"packet,omitempty"`
	Sockets     []any  `json:"sockets,omitempty" msgpack:"sockets,omitempty"`
}

// RequestID returns the id of the request m makes or answers; "" for a
// broadcast without acks, a server-side emit without answers, and the
// messages that are never requests.
func (m *Message) RequestID() string {
	switch d := m.Data.(type) {
	case *broadcastData:
		return d.RequestID
	case *requestData:
		return d.RequestID
	case *responseData:
		return d.RequestID
	}
	return ""
}

// Rooms returns the rooms a broadcast or a join, leave or disconnect
// request selects (none: every socket), for transports that route by
// room.
func (m *Message) Rooms() []string {
	switch d := m.Data.(type) {
	case *broadcastData:
		if d.Opts != nil {
			return adapterwire.Strings(d.Opts.Rooms)
		}
	case *roomsData:
		if d.Opts != nil {
			return adapterwire.Strings(d.Opts.Rooms)
		}
	}
	return nil
}

// HasBinary reports whether m's data holds binary, which a JSON encoding
// would not carry as such.
func (m *Message) HasBinary() bool {
	switch d := m.Data.(type) {
	case *broadcastData:
		return d.Packet != nil && adapterwire.HasBinary(d.Packet.Data)
	case *requestData:
		return adapterwire.HasBinary(d.Packet)
	case *responseData:
		return adapterwire.HasBinary(d.Packet) || adapterwire.HasBinary(d.Sockets)
	}
	return false
}

// DecodeBroadcast returns the packet and options of a broadcast message,
// for a transport that keeps broadcasts (to replay them to a recovering
// client).
func (m *Message) DecodeBroadcast() (*siopacket.Packet, sioadapter.BroadcastOptions, error) {
	d, ok := m.Data.(*broadcastData)
	if !ok || d.Packet == nil {
		return nil, sioadapter.BroadcastOptions{}, fmt.Errorf("clusteradapter: %s message has no packet", m.Type)
	}
	p, err := adapterwire.FromPacket(d.Packet)
	if err != nil {
		return nil, sioadapter.BroadcastOptions{}, err
	}
	p.Namespace = m.Nsp
	return &p, adapterwire.FromOpts(d.Opts), nil
}
