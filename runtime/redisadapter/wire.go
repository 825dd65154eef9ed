package redisadapter

import (
	"encoding/json"

	"github.com/sio-dev/sio/runtime/internal/adapterwire"
)

// Request types of the @socket.io/redis-adapter 8 protocol.
const (
	typeSockets              = 0
	typeAllRooms             = 1
	typeRemoteJoin           = 2
	typeRemoteLeave          = 3
	typeRemoteDisconnect     = 4
	typeRemoteFetch          = 5
	typeServerSideEmit       = 6
	typeBroadcast            = 7
	typeBroadcastClientCount = 8
	typeBroadcastAck         = 9
)

// request is a message on the request channel; JSON or msgpack.
type request struct {
	UID       string              `msgpack:"uid" json:"uid"`
	RequestID string              `msgpack:"requestId,omitempty" json:"requestId,omitempty"`
	Type      int                 `msgpack:"type" json:"type"`
	Opts      *adapterwire.Opts   `msgpack:"opts,omitempty" json:"opts,omitempty"`
	Rooms     []any               `msgpack:"rooms,omitempty" json:"rooms,omitempty"`
	Room      any                 `msgpack:"room,omitempty" json:"room,omitempty"`
	SID       string              `msgpack:"sid,omitempty" json:"sid,omitempty"`
	Close     bool                `msgpack:"close,omitempty" json:"close,omitempty"`
	Data      json.RawMessage     `msgpack:"-" json:"data,omitempty"`
	Packet    *adapterwire.Packet `msgpack:"packet,omitempty" json:"-"`
}

// response is a message on a response channel; JSON or msgpack.
type response struct {
	RequestID   string               `msgpack:"requestId" json:"requestId"`
	Type        int                  `msgpack:"type,omitempty" json:"type,omitempty"`
	Sockets     []adapterwire.Socket `msgpack:"-" json:"sockets,omitempty"`
	Rooms       []any                `msgpack:"-" json:"rooms,omitempty"`
	ClientCount int                  `msgpack:"clientCount,omitempty" json:"clientCount,omitempty"`
	Data        json.RawMessage      `msgpack:"-" json:"data,omitempty"`
	Packet      any                  `msgpack:"packet,omitempty" json:"-"`
}

// decodeMessage decodes a request or response: JSON if it starts with
// '{', msgpack otherwise (as the reference does).
func decodeMessage(payload []byte, v any) error {
	if len(payload) > 0 && payload[0] == '{' {
		return json.Unmarshal(payload, v)
	}
	return adapterwire.UnmarshalMsgpack(payload, v)
}
