package siopacket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// ErrNoArg is returned by Args.Decode for an index out of range.
var ErrNoArg = errors.New("siopacket: no such argument")

// Args holds the arguments of a received event or ack. They decode on
// demand: Decode(i, &v) works like json.Unmarshal, and binary attachments
// decode into []byte (at any depth, for example a struct field). Args may be
// kept after the handler returns.
type Args struct {
	elems       []json.RawMessage
	attachments [][]byte
}

// ParseArgs splits a JSON array payload (an ACK's) into its elements,
// copying them: data may be reused once it returns.
func ParseArgs(data []byte, attachments [][]byte) (Args, error) {
	return parseArgs(data, attachments, false, false)
}

// ParseAck returns the arguments of an ACK or BINARY_ACK packet. p.Data
// must be valid JSON, as DecodeText and the encoders leave it: unlike
// ParseArgs, it is not checked again.
func ParseAck(p *Packet) (Args, error) {
	return parseArgs(p.Data, p.Attachments, true, p.ownsData)
}

// parseArgs splits data into arguments. trusted skips validating it;
// owned skips copying it, for data no buffer will reuse.
func parseArgs(data []byte, attachments [][]byte, trusted, owned bool) (Args, error) {
	var elems []json.RawMessage
	if len(data) > 0 {
		var ok bool
		if !trusted && !validJSON(data) {
			return Args{}, fmt.Errorf("%w: arguments are not valid JSON", ErrInvalid)
		}
		// The elements share one copy: Args outlive the buffer data is in.
		if !owned {
			data = bytes.Clone(data)
		}
		if elems, ok = splitArray(data); !ok {
			return Args{}, fmt.Errorf("%w: arguments are not a JSON array", ErrInvalid)
		}
	}
	return Args{elems: elems, attachments: attachments}, nil
}

// ParseEvent splits an EVENT's payload into its name and arguments. A
// numeric name, which the reference accepts, is returned as its JSON text.
// As for ParseAck, p.Data must be valid JSON.
func ParseEvent(p *Packet) (string, Args, error) { return ParseEventLike(p, "") }

// ParseEventLike is ParseEvent for a reader that expects names it has
// seen before: if the event is named known, it returns known itself
// rather than a new copy of the name, saving an allocation per event.
func ParseEventLike(p *Packet, known string) (string, Args, error) {
	args, err := parseArgs(p.Data, p.Attachments, true, p.ownsData)
	if err != nil {
		return "", Args{}, err
	}
	if len(args.elems) == 0 {
		return "", Args{}, errPayload
	}
	raw := args.elems[0]
	args.elems = args.elems[1:]
	if len(raw) == len(known)+2 && raw[0] == '"' && string(raw[1:len(raw)-1]) == known && plainText(known) {
		return known, args, nil
	}
	name, ok := plainString(raw)
	if !ok && json.Unmarshal(raw, &name) != nil {
		name = string(raw)
	}
	return name, args, nil
}

// scratchPool lends buffers for encoding payloads before the exact-size
// packet data is copied out.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// NewEvent builds an EVENT packet (BINARY_EVENT if args hold []byte).
func NewEvent(nsp, event string, args []any) (Packet, error) {
	buf := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(buf)
	data, atts, err := AppendEventData((*buf)[:0], nil, event, args)
	if err != nil {
		return Packet{}, err
	}
	*buf = data
	p := Packet{Type: Event, Namespace: nsp, Data: bytes.Clone(data), Attachments: atts}
	if len(atts) > 0 {
		p.Type = BinaryEvent
	}
	return p, nil
}

// NewAck builds an ACK packet (BINARY_ACK if args hold []byte).
func NewAck(nsp string, id uint64, args []any) (Packet, error) {
	buf := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(buf)
	data, atts, err := AppendAckData((*buf)[:0], nil, args)
	if err != nil {
		return Packet{}, err
	}
	*buf = data
	p := Packet{Type: Ack, Namespace: nsp, ID: id, HasID: true, Data: bytes.Clone(data), Attachments: atts}
	if len(atts) > 0 {
		p.Type = BinaryAck
	}
	return p, nil
}

// EncodeAck returns the text frame of an ACK with args (a BINARY_ACK if
// they hold []byte) and its attachments: what AppendText makes of NewAck's
// packet, built with one allocation instead of two.
func EncodeAck(nsp string, id uint64, args []any) (text []byte, attachments [][]byte, err error) {
	buf := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(buf)
	data, atts, err := AppendAckData((*buf)[:0], nil, args)
	if err != nil {
		return nil, nil, err
	}
	*buf = data
	p := Packet{Type: Ack, Namespace: nsp, ID: id, HasID: true, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = BinaryAck
	}
	return AppendText(make([]byte, 0, textHeaderLen(&p)+len(data)), &p), atts, nil
}

// textHeaderLen is the length of what AppendText writes before p's data:
// the type, the attachment count and its dash, the namespace and its
// comma, the id. An ack is queued for the connection in the buffer made
// for it, so a guess of the longest header would be held per ack.
func textHeaderLen(p *Packet) int {
	n := 1
	if p.Type.IsBinary() {
		n += decimalLen(uint64(len(p.Attachments))) + 1
	}
	if p.Namespace != "" && p.Namespace != "/" {
		n += len(p.Namespace) + 1
	}
	if p.HasID {
		n += decimalLen(p.ID)
	}
	return n
}

// decimalLen is the number of digits of v in base 10.
func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.elems) }

// Raw returns argument i as it arrived, with binary placeholders left in.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.elems) {
		return nil
	}
	return a.elems[i]
}

// Bytes returns argument i if it is a binary attachment.
func (a Args) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(a.elems) || len(a.attachments) == 0 {
		return nil, false
	}
	n, ok := PlaceholderNum(a.elems[i])
	if !ok || n >= len(a.attachments) {
		return nil, false
	}
	return a.attachments[n], true
}

// Decode stores argument i in v, which must be a non-nil pointer. Binary
// attachments decode into []byte; decoded into *any they become []byte too,
// and numbers become float64.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.elems) {
		return fmt.Errorf("%w: %d of %d", ErrNoArg, i, len(a.elems))
	}
	raw := a.elems[i]
	if len(a.attachments) == 0 || !HasPlaceholder(raw) {
		return json.Unmarshal(raw, v)
	}
	if b, ok := v.(*[]byte); ok {
		if data, ok := a.Bytes(i); ok {
			*b = data
			return nil
		}
	}
	if p, ok := v.(*any); ok {
		val, err := Resolve(raw, a.attachments)
		if err != nil {
			return err
		}
		*p = numbersToFloat(val)
		return nil
	}
	resolved, err := ResolveBase64(raw, a.attachments)
	if err != nil {
		return err
	}
	return json.Unmarshal(resolved, v)
}

// Values decodes every argument as Decode(i, *any) would, so that they can
// be emitted again unchanged, binary included.
func (a Args) Values() ([]any, error) {
	out := make([]any, len(a.elems))
	for i := range a.elems {
		if err := a.Decode(i, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// String shows the arguments as JSON, for logs.
func (a Args) String() string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range a.elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return b.String()
}

// numbersToFloat turns json.Number (used to keep large integers exact while
// resolving) into float64, as json.Unmarshal into any would.
func numbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbersToFloat(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersToFloat(e)
		}
	}
	return v
}
