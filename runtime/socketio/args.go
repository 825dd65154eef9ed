package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Args holds the arguments of a received event or ack. They decode on
// demand: Decode(i, &v) works like json.Unmarshal, and binary attachments
// decode into []byte (at any depth, for example a struct field). Args may be
// kept after the handler returns.
type Args struct {
	elems       []json.RawMessage
	attachments [][]byte
}

// parseArgs splits a JSON array payload into its elements.
func parseArgs(data []byte, attachments [][]byte) (Args, error) {
	var elems []json.RawMessage
	if len(data) > 0 {
		if err := json.Unmarshal(data, &elems); err != nil {
			return Args{}, fmt.Errorf("%w: %v", siopacket.ErrInvalid, err)
		}
	}
	return Args{elems: elems, attachments: attachments}, nil
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
	n, ok := siopacket.PlaceholderNum(a.elems[i])
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
	if len(a.attachments) == 0 || !siopacket.HasPlaceholder(raw) {
		return json.Unmarshal(raw, v)
	}
	if b, ok := v.(*[]byte); ok {
		if data, ok := a.Bytes(i); ok {
			*b = data
			return nil
		}
	}
	if p, ok := v.(*any); ok {
		val, err := siopacket.Resolve(raw, a.attachments)
		if err != nil {
			return err
		}
		*p = numbersToFloat(val)
		return nil
	}
	resolved, err := siopacket.ResolveBase64(raw, a.attachments)
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
