package redisadapter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
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

// wirePacket is a Socket.IO packet as the reference adapter publishes it:
// the socket.io-parser object, binary data inline as msgpack bin.
type wirePacket struct {
	Type int    `msgpack:"type" json:"type"`
	Data []any  `msgpack:"data" json:"data"`
	Nsp  string `msgpack:"nsp" json:"nsp"`
	ID   *int64 `msgpack:"id,omitempty" json:"id,omitempty"`
}

// wireOpts are broadcast options on the wire.
type wireOpts struct {
	Rooms  []any     `msgpack:"rooms" json:"rooms"`
	Except []any     `msgpack:"except" json:"except"`
	Flags  wireFlags `msgpack:"flags,omitempty" json:"flags,omitempty"`
}

type wireFlags struct {
	Volatile bool  `msgpack:"volatile,omitempty" json:"volatile,omitempty"`
	Compress *bool `msgpack:"compress,omitempty" json:"compress,omitempty"`
	Local    bool  `msgpack:"local,omitempty" json:"local,omitempty"`
	Timeout  int64 `msgpack:"timeout,omitempty" json:"timeout,omitempty"`
}

// request is a message on the request channel; JSON or msgpack.
type request struct {
	UID       string          `msgpack:"uid" json:"uid"`
	RequestID string          `msgpack:"requestId,omitempty" json:"requestId,omitempty"`
	Type      int             `msgpack:"type" json:"type"`
	Opts      *wireOpts       `msgpack:"opts,omitempty" json:"opts,omitempty"`
	Rooms     []any           `msgpack:"rooms,omitempty" json:"rooms,omitempty"`
	Room      any             `msgpack:"room,omitempty" json:"room,omitempty"`
	SID       string          `msgpack:"sid,omitempty" json:"sid,omitempty"`
	Close     bool            `msgpack:"close,omitempty" json:"close,omitempty"`
	Data      json.RawMessage `msgpack:"-" json:"data,omitempty"`
	Packet    *wirePacket     `msgpack:"packet,omitempty" json:"-"`
}

// response is a message on a response channel; JSON or msgpack.
type response struct {
	RequestID   string          `msgpack:"requestId" json:"requestId"`
	Type        int             `msgpack:"type,omitempty" json:"type,omitempty"`
	Sockets     []wireSocket    `msgpack:"-" json:"sockets,omitempty"`
	Rooms       []any           `msgpack:"-" json:"rooms,omitempty"`
	ClientCount int             `msgpack:"clientCount,omitempty" json:"clientCount,omitempty"`
	Data        json.RawMessage `msgpack:"-" json:"data,omitempty"`
	Packet      any             `msgpack:"packet,omitempty" json:"-"`
}

// wireSocket is a socket as fetchSockets responses describe it.
type wireSocket struct {
	ID        string          `json:"id"`
	Handshake wireHandshake   `json:"handshake"`
	Rooms     []any           `json:"rooms"`
	Data      json.RawMessage `json:"data"`
}

type wireHandshake struct {
	Headers map[string]any  `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]any  `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// stringsOf turns wire room lists (strings, or numbers from JavaScript)
// into room names.
func stringsOf(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, roomName(v))
	}
	return out
}

func roomName(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func anyOf(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

func toWireOpts(o socketio.BroadcastOptions) *wireOpts {
	w := &wireOpts{Rooms: anyOf(o.Rooms), Except: anyOf(o.Except)}
	w.Flags.Volatile = o.Flags.Volatile
	w.Flags.Local = o.Flags.Local
	w.Flags.Timeout = o.Flags.Timeout.Milliseconds()
	if o.Flags.NoCompress {
		f := false
		w.Flags.Compress = &f
	}
	return w
}

func fromWireOpts(w *wireOpts) socketio.BroadcastOptions {
	if w == nil {
		return socketio.BroadcastOptions{}
	}
	o := socketio.BroadcastOptions{Rooms: stringsOf(w.Rooms), Except: stringsOf(w.Except)}
	o.Flags.Volatile = w.Flags.Volatile
	o.Flags.Timeout = time.Duration(w.Flags.Timeout) * time.Millisecond
	o.Flags.NoCompress = w.Flags.Compress != nil && !*w.Flags.Compress
	return o
}

// toWirePacket turns our packet (JSON with placeholders, attachments) into
// the reference's packet object, binary inline.
func toWirePacket(p *siopacket.Packet) (*wirePacket, error) {
	v, err := siopacket.Resolve(p.Data, p.Attachments)
	if err != nil {
		return nil, err
	}
	data, ok := plainNumbers(v).([]any)
	if !ok {
		return nil, fmt.Errorf("redisadapter: packet data is not an array")
	}
	typ := int(p.Type)
	switch p.Type {
	case siopacket.BinaryEvent:
		typ = int(siopacket.Event)
	case siopacket.BinaryAck:
		typ = int(siopacket.Ack)
	}
	w := &wirePacket{Type: typ, Data: data, Nsp: p.Namespace}
	if p.HasID {
		id := int64(p.ID)
		w.ID = &id
	}
	return w, nil
}

// fromWirePacket turns the reference's packet object back into ours.
func fromWirePacket(w *wirePacket) (siopacket.Packet, error) {
	data, atts, err := siopacket.AppendAckData(nil, nil, w.Data)
	if err != nil {
		return siopacket.Packet{}, err
	}
	p := siopacket.Packet{Type: siopacket.Type(w.Type), Namespace: w.Nsp, Data: data, Attachments: atts}
	if p.Namespace == "" {
		p.Namespace = "/"
	}
	if len(atts) > 0 {
		switch p.Type {
		case siopacket.Event:
			p.Type = siopacket.BinaryEvent
		case siopacket.Ack:
			p.Type = siopacket.BinaryAck
		}
	}
	if w.ID != nil && *w.ID >= 0 {
		p.ID, p.HasID = uint64(*w.ID), true
	}
	return p, nil
}

// plainNumbers replaces json.Number with int64 or float64, which msgpack
// encodes as numbers.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}

// decodeMessage decodes a request or response: JSON if it starts with
// '{', msgpack otherwise (as the reference does).
func decodeMessage(payload []byte, v any) error {
	if len(payload) > 0 && payload[0] == '{' {
		return json.Unmarshal(payload, v)
	}
	return msgpack.Unmarshal(payload, v)
}

func toWireHandshake(h socketio.Handshake) wireHandshake {
	w := wireHandshake{
		Headers: map[string]any{}, Time: h.Time.UTC().Format(time.RFC1123), Address: h.Address,
		XDomain: h.XDomain, Secure: h.Secure, Issued: h.Issued, URL: h.URL, Query: map[string]any{}, Auth: h.Auth,
	}
	for k, v := range h.Header() {
		w.Headers[http.CanonicalHeaderKey(k)] = v[0]
	}
	for k, v := range h.Query() {
		w.Query[k] = v[0]
	}
	if len(w.Auth) == 0 {
		w.Auth = json.RawMessage("{}")
	}
	return w
}

func fromWireHandshake(w wireHandshake) socketio.Handshake {
	header := http.Header{}
	h := socketio.Handshake{Address: w.Address, XDomain: w.XDomain, Secure: w.Secure,
		Issued: w.Issued, URL: w.URL, Auth: w.Auth}
	if w.Issued > 0 {
		h.Time = time.UnixMilli(w.Issued)
	}
	for k, v := range w.Headers {
		switch x := v.(type) {
		case string:
			header.Add(k, x)
		case []any:
			for _, e := range x {
				header.Add(k, fmt.Sprint(e))
			}
		}
	}
	h.SetHeader(header)
	// The query is the URL's, as the reference takes it; w.Query repeats it.
	return h
}

// toWireSockets describes local sockets as fetchSockets answers carry them.
func toWireSockets(infos []socketio.SocketInfo) []wireSocket {
	sockets := make([]wireSocket, 0, len(infos))
	for _, s := range infos {
		data, _ := json.Marshal(s.Data)
		sockets = append(sockets, wireSocket{ID: s.ID, Handshake: toWireHandshake(s.Handshake), Rooms: anyOf(s.Rooms), Data: data})
	}
	return sockets
}

// fromWireSocket reads a socket of a fetchSockets answer.
func fromWireSocket(s wireSocket) socketio.SocketInfo {
	var data any
	_ = json.Unmarshal(s.Data, &data)
	return socketio.SocketInfo{ID: s.ID, Handshake: fromWireHandshake(s.Handshake), Rooms: stringsOf(s.Rooms), Data: data}
}

// argsOf makes Args of plain values, binary as []byte, as another node's
// answers and server-side emits arrive.
func argsOf(values []any) (socketio.Args, bool) {
	data, atts, err := siopacket.AppendAckData(nil, nil, plainNumbers(values).([]any))
	if err != nil {
		return socketio.Args{}, false
	}
	args, err := siopacket.ParseArgs(data, atts)
	return args, err == nil
}

// answerOnce returns the Ack of a request from another node: the first
// call sends its first argument (nil if none) back with send; later calls
// do nothing, as the reference expects one answer per node.
func answerOnce(send func(first any)) socketio.Ack {
	var once sync.Once
	return func(answer ...any) error {
		once.Do(func() {
			var first any
			if len(answer) > 0 {
				first = answer[0]
			}
			send(first)
		})
		return nil
	}
}
