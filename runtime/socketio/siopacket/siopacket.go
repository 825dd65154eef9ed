// Package siopacket encodes and decodes Socket.IO protocol v5 packets,
// including binary attachments. It does no I/O: a packet becomes one text
// frame plus one binary frame per attachment, which the caller hands to
// Engine.IO as messages.
//
// The text form is
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// where attachments appear only on BINARY_EVENT and BINARY_ACK, and each
// []byte in the payload is replaced by {"_placeholder":true,"num":N} with
// its bytes sent as the N-th attachment.
//
// AppendMsgpack and DecodeMsgpack are the same packets in the form of the
// socket.io-msgpack-parser npm package: one binary frame per packet.
package siopacket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Type is a Socket.IO packet type.
type Type byte

// The packet types of protocol v5.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol's name for the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", byte(t))
}

// IsBinary reports whether packets of this type carry attachments.
func (t Type) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// Packet is one Socket.IO packet.
type Packet struct {
	Type Type
	// Namespace is "/" unless the packet names another.
	Namespace string
	// ID is the ack id, valid when HasID is set.
	ID    uint64
	HasID bool
	// Data is the JSON payload, nil when the packet has none. In binary
	// packets it holds placeholders for the attachments.
	Data json.RawMessage
	// Attachments holds the binary attachments, in placeholder order.
	Attachments [][]byte

	// ownsData is set on packets a Reassembler completed: their Data is
	// already a copy, so the parsers need not copy it again.
	ownsData bool
}

// Limits bound what the decoder accepts.
type Limits struct {
	// MaxAttachments is the most binary attachments one packet may
	// announce. Default 10.
	MaxAttachments int
}

// DefaultMaxAttachments is the attachment limit when Limits leaves it zero.
const DefaultMaxAttachments = 10

// maxIDDigits keeps ack ids within what every client can represent
// exactly (JavaScript numbers are exact to 2^53).
const maxIDDigits = 15

// Decoding errors. Every error from this package wraps ErrInvalid.
var (
	ErrInvalid          = errors.New("siopacket: invalid packet")
	errEmpty            = fmt.Errorf("%w: empty", ErrInvalid)
	errType             = fmt.Errorf("%w: unknown type", ErrInvalid)
	errAttachments      = fmt.Errorf("%w: bad attachment count", ErrInvalid)
	errTooManyAttach    = fmt.Errorf("%w: too many attachments", ErrInvalid)
	errNamespace        = fmt.Errorf("%w: bad namespace", ErrInvalid)
	errID               = fmt.Errorf("%w: bad ack id", ErrInvalid)
	errJSON             = fmt.Errorf("%w: payload is not JSON", ErrInvalid)
	errPayload          = fmt.Errorf("%w: payload does not fit the packet type", ErrInvalid)
	errReservedEvent    = fmt.Errorf("%w: reserved event name", ErrInvalid)
	errUnexpectedBinary = fmt.Errorf("%w: unexpected binary attachment", ErrInvalid)
	errPlaceholder      = fmt.Errorf("%w: placeholder does not match an attachment", ErrInvalid)
)

// ReservedEvents are the event names a peer may not emit: the client-side
// lifecycle events of the reference implementation.
var ReservedEvents = []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// AppendText appends the text frame of p to dst. For binary packet types
// the attachment count is len(p.Attachments).
//
// The frame is always valid UTF-8, whatever p holds: each byte of an
// invalid sequence in the namespace or the payload (a json.RawMessage, a
// json.Marshaler's output, a packet relayed from another node) becomes
// U+FFFD, as encoding/json does for strings. A WebSocket client drops the
// connection on a text frame that is not UTF-8, so one bad value would
// otherwise disconnect every client it is broadcast to.
func AppendText(dst []byte, p *Packet) []byte {
	start := len(dst)
	dst = appendText(dst, p)
	if !utf8.Valid(dst[start:]) {
		dst = append(dst[:start], toValidUTF8(dst[start:])...)
	}
	return dst
}

// toValidUTF8 returns b with each byte of every invalid UTF-8 sequence
// replaced by U+FFFD, the replacement encoding/json makes in strings. Such
// bytes (0x80 and up) can only stand inside JSON strings, so valid JSON
// stays valid JSON. It returns b itself if b is valid.
func toValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

func appendText(dst []byte, p *Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.IsBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// DecodeText decodes a text frame. A binary packet comes back with
// Attachments of the announced length, all nil: fill them in order with
// the binary frames that follow (a Reassembler does that). Data aliases
// text: copy it if the packet must outlive text.
func DecodeText(text []byte, lim Limits) (Packet, int, error) {
	if len(text) == 0 {
		return Packet{}, 0, errEmpty
	}
	p := Packet{Type: Type(text[0] - '0'), Namespace: "/"}
	if text[0] < '0' || p.Type > BinaryAck {
		return Packet{}, 0, errType
	}
	rest := text[1:]
	attachments := 0
	if p.Type.IsBinary() {
		i := bytes.IndexByte(rest, '-')
		if i <= 0 || i > 4 || !allDigits(rest[:i]) {
			return Packet{}, 0, errAttachments
		}
		attachments, _ = strconv.Atoi(string(rest[:i]))
		max := lim.MaxAttachments
		if max <= 0 {
			max = DefaultMaxAttachments
		}
		if attachments > max {
			return Packet{}, 0, errTooManyAttach
		}
		rest = rest[i+1:]
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			i = len(rest)
		}
		p.Namespace = string(rest[:i])
		if !validNamespace(p.Namespace) {
			return Packet{}, 0, errNamespace
		}
		rest = rest[min(i+1, len(rest)):]
	}
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	if n > 0 {
		if n > maxIDDigits {
			return Packet{}, 0, errID
		}
		p.ID, _ = strconv.ParseUint(string(rest[:n]), 10, 64)
		p.HasID = true
		rest = rest[n:]
	}
	if len(rest) > 0 {
		if !validJSON(rest) {
			return Packet{}, 0, errJSON
		}
		p.Data = rest
	}
	if err := checkPayload(&p); err != nil {
		return Packet{}, 0, err
	}
	if p.Type.IsBinary() {
		if err := checkPlaceholders(p.Data, attachments); err != nil {
			return Packet{}, 0, err
		}
	}
	if attachments > 0 {
		p.Attachments = make([][]byte, attachments)
	}
	return p, attachments, nil
}

// checkPlaceholders verifies that a binary packet's placeholders refer to
// each announced attachment exactly once. data must be valid JSON.
func checkPlaceholders(data []byte, attachments int) error {
	if err, ok := scanPlaceholders(data, attachments); ok {
		return err
	}
	return checkPlaceholdersDecoded(data, attachments)
}

// checkPlaceholdersDecoded is checkPlaceholders by decoding data whole:
// the reference for scanPlaceholders, and its fallback for what it leaves.
func checkPlaceholdersDecoded(data []byte, attachments int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return errJSON
	}
	seen := make([]bool, attachments)
	count := 0
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if ph, ok := x["_placeholder"].(bool); ok && ph && len(x) == 2 {
				n, ok := x["num"].(json.Number)
				i, err := strconv.Atoi(string(n))
				if !ok || err != nil || i < 0 || i >= attachments || seen[i] {
					return errPlaceholder
				}
				seen[i] = true
				count++
				return nil
			}
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v); err != nil {
		return err
	}
	if count != attachments {
		return errAttachments
	}
	return nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// validNamespace accepts "/" followed by printable characters other than
// the separators the format relies on.
func validNamespace(nsp string) bool {
	if len(nsp) == 0 || nsp[0] != '/' {
		return false
	}
	for i := 0; i < len(nsp); i++ {
		if c := nsp[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// checkPayload applies the reference's rules for what each type carries.
func checkPayload(p *Packet) error {
	first := firstByte(p.Data)
	switch p.Type {
	case Connect:
		if p.Data != nil && first != '{' {
			return errPayload
		}
	case Disconnect:
		if p.Data != nil {
			return errPayload
		}
	case ConnectError:
		if first != '{' && first != '"' {
			return errPayload
		}
	case Ack, BinaryAck:
		if first != '[' {
			return errPayload
		}
	case Event, BinaryEvent:
		if first != '[' {
			return errPayload
		}
		return checkEventName(p.Data)
	}
	return nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// checkEventName checks the first element of a valid JSON array: a string
// that is not reserved, or (as the reference accepts) a number.
func checkEventName(data []byte) error {
	i := bytes.IndexByte(data, '[') + 1
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i >= len(data) {
		return errPayload
	}
	switch c := data[i]; {
	case c == '"':
		end := bytes.IndexByte(data[i+1:], '"')
		name := data[i+1 : i+1+end]
		if bytes.IndexByte(name, '\\') >= 0 {
			// Escapes: take the slow, exact path.
			var s string
			if err := json.NewDecoder(bytes.NewReader(data[i:])).Decode(&s); err != nil {
				return errPayload
			}
			name = []byte(s)
		}
		for _, r := range ReservedEvents {
			if string(name) == r {
				return errReservedEvent
			}
		}
		return nil
	case c == '-' || isDigit(c):
		return nil
	}
	return errPayload
}

// Reassembler collects a binary packet's attachments from the binary
// frames that follow its text frame.
type Reassembler struct {
	// slot holds the packet being collected; it is allocated on the
	// first binary packet and reused for the next ones.
	slot    *Packet
	waiting bool
	next    int
}

// Start begins collecting for p, which DecodeText announced with n > 0
// attachments. It copies p.Data, which may alias a frame buffer.
func (r *Reassembler) Start(p Packet) {
	if r.slot == nil {
		r.slot = new(Packet)
	}
	*r.slot = p
	r.slot.Data = bytes.Clone(p.Data)
	r.slot.ownsData = true
	r.waiting = true
	r.next = 0
}

// Waiting reports whether attachments are still expected.
func (r *Reassembler) Waiting() bool { return r.waiting }

// Add stores the next attachment (copying it) and returns the packet once
// the last one has arrived.
func (r *Reassembler) Add(data []byte) (Packet, bool, error) {
	if !r.waiting {
		return Packet{}, false, errUnexpectedBinary
	}
	atts := r.slot.Attachments
	atts[r.next] = bytes.Clone(data)
	if atts[r.next] == nil {
		atts[r.next] = []byte{}
	}
	r.next++
	if r.next < len(atts) {
		return Packet{}, false, nil
	}
	p := *r.slot
	r.Reset()
	return p, true, nil
}

// Reset drops a packet in progress.
func (r *Reassembler) Reset() {
	r.waiting = false
	if r.slot != nil {
		*r.slot = Packet{} // keep no payload alive
	}
}

// AppendStringArg appends s as the last argument of an EVENT or ACK
// packet's JSON array (connection state recovery carries offsets so).
func AppendStringArg(p *Packet, s string) {
	quoted, _ := json.Marshal(s)
	data := bytes.TrimRight(p.Data, " \t\r\n")
	out := make([]byte, 0, len(data)+len(quoted)+1)
	out = append(out, data[:len(data)-1]...)
	if len(data) > 2 {
		out = append(out, ',')
	}
	out = append(out, quoted...)
	p.Data = append(out, ']')
}
