// Package eiopacket encodes and decodes Engine.IO protocol revision 4 packets
// and HTTP long-polling payloads. It does no I/O.
//
// A packet is a one-character type followed by its data. Over WebSocket each
// packet is one frame: text packets as text frames ("4hello"), binary messages
// as binary frames holding the raw bytes with no type character. Over HTTP
// long-polling, packets are joined into a payload with the record separator
// 0x1e, and binary messages travel as "b" followed by standard base64.
//
// The functions ending in V3 are protocol revision 3's forms (v3.go).
package eiopacket

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Type is an Engine.IO packet type.
type Type byte

// The packet types of protocol revision 4.
const (
	Open    Type = '0'
	Close   Type = '1'
	Ping    Type = '2'
	Pong    Type = '3'
	Message Type = '4'
	Upgrade Type = '5'
	Noop    Type = '6'
)

// String returns the name the protocol gives the type.
func (t Type) String() string {
	switch t {
	case Open:
		return "open"
	case Close:
		return "close"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	case Message:
		return "message"
	case Upgrade:
		return "upgrade"
	case Noop:
		return "noop"
	}
	return fmt.Sprintf("Type(%q)", byte(t))
}

// Valid reports whether t is one of the seven packet types.
func (t Type) Valid() bool { return t >= Open && t <= Noop }

// Separator joins packets in an HTTP long-polling payload.
const Separator = 0x1e

// binaryMarker prefixes a base64-encoded binary message in a polling payload.
const binaryMarker = 'b'

// Packet is one Engine.IO packet. Binary is only meaningful for Message
// packets. Data may alias the buffer it was decoded from.
type Packet struct {
	Type   Type
	Data   []byte
	Binary bool
}

// Errors returned by the decoders.
var (
	ErrEmpty       = errors.New("eiopacket: empty packet")
	ErrUnknownType = errors.New("eiopacket: unknown packet type")
	ErrBadBase64   = errors.New("eiopacket: invalid base64 in binary packet")
	// ErrInvalidUTF8 is returned for a text packet that is not valid
	// UTF-8. A WebSocket peer must close such a connection with status
	// 1007 (RFC 6455 section 8.1); the reference server does.
	ErrInvalidUTF8 = errors.New("eiopacket: text packet is not valid UTF-8")
)

// DecodeText decodes one packet from a WebSocket text frame or one record of
// a polling payload that is not base64 binary. The returned Data aliases b.
//
// Text must be valid UTF-8: a peer's invalid bytes, passed on, would make
// every WebSocket client they are relayed to drop its connection.
func DecodeText(b []byte) (Packet, error) {
	p, err := decodeValidText(b)
	if err == nil && !utf8.Valid(p.Data) {
		return Packet{}, ErrInvalidUTF8
	}
	return p, err
}

// decodeValidText is DecodeText for text already known to be UTF-8.
func decodeValidText(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrEmpty
	}
	t := Type(b[0])
	if !t.Valid() {
		return Packet{}, ErrUnknownType
	}
	return Packet{Type: t, Data: b[1:]}, nil
}

// AppendText appends the text form of p (type character and data) to dst.
// It is the WebSocket text-frame form and must not be used for binary packets.
func AppendText(dst []byte, p Packet) []byte {
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}

// AppendPayload appends the polling form of packets to dst: records joined by
// Separator, binary messages as "b" plus base64.
func AppendPayload(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = AppendRecord(dst, p)
	}
	return dst
}

// AppendRecord appends the polling form of one packet to dst.
func AppendRecord(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, binaryMarker)
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	return AppendText(dst, p)
}

// RecordLen returns the number of bytes AppendRecord writes for p.
func RecordLen(p Packet) int {
	if p.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.Data))
	}
	return 1 + len(p.Data)
}

// DecodePayload splits a polling payload into packets and calls fn for each,
// in order, stopping at the first error. Text packet data aliases payload;
// binary packet data is freshly allocated. An empty record anywhere, including
// an empty payload, is an error.
//
// A payload that is not valid UTF-8 is refused whole (ErrInvalidUTF8),
// before any packet is handed to fn: the reference decodes the body as a
// string, turning each invalid byte into U+FFFD, but a client whose text
// is not UTF-8 is broken or hostile, and refusing it is what WebSocket
// requires too. Binary records are base64, which is ASCII.
func DecodePayload(payload []byte, fn func(Packet) error) error {
	if !utf8.Valid(payload) {
		return ErrInvalidUTF8
	}
	for {
		record, rest, more := bytes.Cut(payload, []byte{Separator})
		p, err := decodeRecord(record)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if !more {
			return nil
		}
		payload = rest
	}
}

// DecodeRecord decodes one record of a polling payload.
func DecodeRecord(record []byte) (Packet, error) {
	if !utf8.Valid(record) {
		return Packet{}, ErrInvalidUTF8
	}
	return decodeRecord(record)
}

// decodeRecord is DecodeRecord for a record known to be UTF-8.
func decodeRecord(record []byte) (Packet, error) {
	if len(record) > 0 && record[0] == binaryMarker {
		data, err := base64.StdEncoding.AppendDecode(nil, record[1:])
		if err != nil {
			return Packet{}, ErrBadBase64
		}
		if data == nil {
			data = []byte{}
		}
		return Packet{Type: Message, Data: data, Binary: true}, nil
	}
	return decodeValidText(record)
}
