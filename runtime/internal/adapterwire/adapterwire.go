// Package adapterwire holds what the cluster adapters share of the
// reference adapters' wire forms: a Socket.IO packet as the socket.io-parser
// object (binary inline), broadcast options, sockets as fetchSockets
// answers describe them, and the conversions to and from the socketio
// types. Each adapter picks JSON or msgpack; msgpack from the broker is
// decoded through UnmarshalMsgpack, which checks it first (msgpack.go).
package adapterwire

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Packet is a Socket.IO packet as the reference adapters publish it: the
// socket.io-parser object, binary data inline ([]byte, msgpack bin).
type Packet struct {
	Type int    `msgpack:"type" json:"type"`
	Data []any  `msgpack:"data" json:"data"`
	Nsp  string `msgpack:"nsp" json:"nsp"`
	ID   *int64 `msgpack:"id,omitempty" json:"id,omitempty"`
}

// Opts are broadcast options on the wire.
type Opts struct {
	Rooms  []any `msgpack:"rooms" json:"rooms"`
	Except []any `msgpack:"except" json:"except"`
	Flags  Flags `msgpack:"flags,omitempty" json:"flags,omitempty"`
}

// Flags are broadcast flags on the wire.
type Flags struct {
	Volatile bool  `msgpack:"volatile,omitempty" json:"volatile,omitempty"`
	Compress *bool `msgpack:"compress,omitempty" json:"compress,omitempty"`
	Local    bool  `msgpack:"local,omitempty" json:"local,omitempty"`
	Timeout  int64 `msgpack:"timeout,omitempty" json:"timeout,omitempty"`
}

// Socket is a socket as fetchSockets answers describe it.
type Socket struct {
	ID        string          `json:"id"`
	Handshake Handshake       `json:"handshake"`
	Rooms     []any           `json:"rooms"`
	Data      json.RawMessage `json:"data"`
}

// Handshake is a socket's handshake as fetchSockets answers describe it.
type Handshake struct {
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

// Strings turns wire room lists (strings, or numbers from JavaScript)
// into room names.
func Strings(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, RoomName(v))
	}
	return out
}

// RoomName reads one room name of a wire list.
func RoomName(v any) string {
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

// Anys is list as a wire list.
func Anys(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// ToOpts puts broadcast options on the wire.
func ToOpts(o sioadapter.BroadcastOptions) *Opts {
	w := &Opts{Rooms: Anys(o.Rooms), Except: Anys(o.Except)}
	w.Flags.Volatile = o.Flags.Volatile
	w.Flags.Local = o.Flags.Local
	w.Flags.Timeout = o.Flags.Timeout.Milliseconds()
	if o.Flags.NoCompress {
		f := false
		w.Flags.Compress = &f
	}
	return w
}

// FromOpts reads broadcast options off the wire; nil selects everything.
func FromOpts(w *Opts) sioadapter.BroadcastOptions {
	if w == nil {
		return sioadapter.BroadcastOptions{}
	}
	o := sioadapter.BroadcastOptions{Rooms: Strings(w.Rooms), Except: Strings(w.Except)}
	o.Flags.Volatile = w.Flags.Volatile
	o.Flags.Timeout = time.Duration(w.Flags.Timeout) * time.Millisecond
	o.Flags.NoCompress = w.Flags.Compress != nil && !*w.Flags.Compress
	return o
}

// errNotArray reports packet data that is not a JSON array.
var errNotArray = errors.New("adapter: packet data is not an array")

// ToPacket turns our packet (JSON with placeholders, attachments) into the
// reference's packet object, binary inline.
func ToPacket(p *siopacket.Packet) (*Packet, error) {
	v, err := siopacket.Resolve(p.Data, p.Attachments)
	if err != nil {
		return nil, err
	}
	data, ok := PlainNumbers(v).([]any)
	if !ok {
		return nil, errNotArray
	}
	typ := int(p.Type)
	switch p.Type {
	case siopacket.BinaryEvent:
		typ = int(siopacket.Event)
	case siopacket.BinaryAck:
		typ = int(siopacket.Ack)
	}
	w := &Packet{Type: typ, Data: data, Nsp: p.Namespace}
	if p.HasID {
		id := int64(p.ID)
		w.ID = &id
	}
	return w, nil
}

// FromPacket turns the reference's packet object back into ours.
func FromPacket(w *Packet) (siopacket.Packet, error) {
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

// PlainNumbers replaces json.Number with int64 or float64, which msgpack
// encodes as numbers.
func PlainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = PlainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = PlainNumbers(e)
		}
	}
	return v
}

func toHandshake(h sioadapter.Handshake) Handshake {
	w := Handshake{
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

func fromHandshake(w Handshake) sioadapter.Handshake {
	header := http.Header{}
	h := sioadapter.Handshake{Address: w.Address, XDomain: w.XDomain, Secure: w.Secure,
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
	h.HeaderFunc = func() http.Header { return header }
	// The query is the URL's, as the reference takes it; w.Query repeats it.
	return h
}

// ToSockets describes local sockets as fetchSockets answers carry them.
func ToSockets(infos []sioadapter.SocketInfo) []Socket {
	sockets := make([]Socket, 0, len(infos))
	for _, s := range infos {
		data, _ := json.Marshal(s.Data)
		sockets = append(sockets, Socket{ID: s.ID, Handshake: toHandshake(s.Handshake), Rooms: Anys(s.Rooms), Data: data})
	}
	return sockets
}

// FromSocket reads a socket of a fetchSockets answer.
func FromSocket(s Socket) sioadapter.SocketInfo {
	var data any
	_ = json.Unmarshal(s.Data, &data)
	return sioadapter.SocketInfo{ID: s.ID, Handshake: fromHandshake(s.Handshake), Rooms: Strings(s.Rooms), Data: data}
}

// SocketsOf reads the sockets of a fetch answer decoded as plain values
// (JSON objects or msgpack maps).
func SocketsOf(list []any) []sioadapter.SocketInfo {
	out := make([]sioadapter.SocketInfo, 0, len(list))
	for _, v := range list {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		var s Socket
		if json.Unmarshal(b, &s) == nil {
			out = append(out, FromSocket(s))
		}
	}
	return out
}

// Args makes Args of plain values, binary as []byte, as another node's
// answers and server-side emits arrive.
func Args(values []any) (siopacket.Args, bool) {
	data, atts, err := siopacket.AppendAckData(nil, nil, PlainNumbers(values).([]any))
	if err != nil {
		return siopacket.Args{}, false
	}
	args, err := siopacket.ParseArgs(data, atts)
	return args, err == nil
}

// FirstValue is an ack's first argument as a plain value, binary as
// []byte; nil if there is none.
func FirstValue(args siopacket.Args) any {
	var v any
	if args.Len() > 0 {
		_ = args.Decode(0, &v)
	}
	return PlainNumbers(v)
}

// HasBinary reports whether v holds a []byte anywhere.
func HasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range x {
			if HasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if HasBinary(e) {
				return true
			}
		}
	}
	return false
}

// AnswerOnce returns the Ack of a request from another node: the first
// call sends its first argument (nil if none) back with send; later calls
// do nothing, as the reference expects one answer per node.
func AnswerOnce(send func(first any)) func(answer ...any) error {
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

// RandomID returns 16 hex digits, the reference's form of node and
// request ids.
func RandomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Plain returns v as encoding/json sees it, as plain maps, slices,
// strings, numbers and booleans, so that a msgpack codec writes the same
// object a JSON one would (struct tags and Marshalers honoured). v must
// hold no binary.
func Plain(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}
