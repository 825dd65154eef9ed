package postgresadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/clusteradapter"
)

// transport is the clusteradapter.Transport of an Adapter: every message,
// answers too, goes to the namespace's channel, as the reference sends
// them; each node keeps the answers to its own requests.
type transport struct{ a *Adapter }

// Publish implements clusteradapter.Transport. NOTIFY has no offsets.
func (t transport) Publish(ctx context.Context, m *clusteradapter.Message) (string, error) {
	return "", t.a.hub.publish(ctx, t.a.channel, m)
}

// PublishResponse implements clusteradapter.Transport.
func (t transport) PublishResponse(ctx context.Context, _ string, m *clusteradapter.Message) error {
	return t.a.hub.publish(ctx, t.a.channel, m)
}

// header is the notification of a message kept in the attachment table:
// the sender, the type and the row's id, a decimal string as the
// reference's driver returns a bigserial (a number is read as well).
type header struct {
	UID          string                     `json:"uid"`
	Type         clusteradapter.MessageType `json:"type"`
	AttachmentID string                     `json:"attachmentId"`
}

// encodeNotification returns m as the reference's NOTIFY payload: its
// JSON, or nil when it must go through the attachment table instead
// (binary, which JSON would not carry as such, or threshold bytes and
// more).
func encodeNotification(m *clusteradapter.Message, threshold int) ([]byte, error) {
	if m.HasBinary() {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) >= threshold {
		return nil, nil
	}
	return b, nil
}

// encodeHeader returns the notification of a message kept in row id.
func encodeHeader(m *clusteradapter.Message, id int64) ([]byte, error) {
	return json.Marshal(header{UID: m.UID, Type: m.Type, AttachmentID: strconv.FormatInt(id, 10)})
}

// errNoNamespace is a notification without a namespace: no message.
var errNoNamespace = errors.New("postgresadapter: message without a namespace")

// decodeNotification reads a NOTIFY payload: a whole message, or, when
// attachment is not 0, the header of one kept in that row (m then holds
// only its sender and type).
func decodeNotification(payload []byte) (m *clusteradapter.Message, attachment int64, err error) {
	var env struct {
		UID          string                     `json:"uid"`
		Nsp          string                     `json:"nsp"`
		Type         clusteradapter.MessageType `json:"type"`
		Data         json.RawMessage            `json:"data"`
		AttachmentID json.RawMessage            `json:"attachmentId"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, 0, fmt.Errorf("postgresadapter: notification: %w", err)
	}
	m = &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
	if len(env.AttachmentID) > 0 && string(env.AttachmentID) != "null" {
		id, err := parseAttachmentID(env.AttachmentID)
		if err != nil {
			return nil, 0, err
		}
		return m, id, nil
	}
	if m.Nsp == "" {
		return nil, 0, errNoNamespace
	}
	if m.Data = clusteradapter.NewData(m.Type); m.Data == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		m.Data = nil
		return m, 0, nil
	}
	if err := json.Unmarshal(env.Data, m.Data); err != nil {
		return nil, 0, fmt.Errorf("postgresadapter: %s data: %w", m.Type, err)
	}
	return m, 0, nil
}

// parseAttachmentID reads a row id, a decimal string or number above 0.
func parseAttachmentID(raw json.RawMessage) (int64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, fmt.Errorf("postgresadapter: attachment id %s", raw)
		}
		s = n.String()
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("postgresadapter: attachment id %q", s)
	}
	return id, nil
}

// encodeAttachment returns m as the attachment table keeps it: msgpack
// of the whole message, type as a number, binary as bin.
func encodeAttachment(m *clusteradapter.Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// Fields by their msgpack tag, else their json tag, as the
	// reference's msgpack writes objects.
	enc.SetCustomStructTag("json")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDepth bounds the nesting of an attachment's values: the decoder
// recurses, and a row is as large as whoever writes the table wants.
const maxDepth = 64

// decodeAttachment reads a message back from its row.
func decodeAttachment(payload []byte) (*clusteradapter.Message, error) {
	if err := checkDepth(payload, maxDepth); err != nil {
		return nil, err
	}
	var env struct {
		UID  string                     `msgpack:"uid"`
		Nsp  string                     `msgpack:"nsp"`
		Type clusteradapter.MessageType `msgpack:"type"`
		Data msgpack.RawMessage         `msgpack:"data"`
	}
	if err := msgpack.Unmarshal(payload, &env); err != nil {
		return nil, fmt.Errorf("postgresadapter: attachment: %w", err)
	}
	if env.Nsp == "" {
		return nil, errNoNamespace
	}
	m := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
	if m.Data = clusteradapter.NewData(m.Type); m.Data == nil || len(env.Data) == 0 {
		m.Data = nil
		return m, nil
	}
	if err := msgpack.Unmarshal(env.Data, m.Data); err != nil {
		return nil, fmt.Errorf("postgresadapter: %s attachment data: %w", m.Type, err)
	}
	return m, nil
}

// errTooDeep is an attachment nested beyond maxDepth, or malformed.
var errTooDeep = errors.New("postgresadapter: attachment nested too deeply or malformed")

// checkDepth walks msgpack b without decoding it and fails if arrays and
// maps nest deeper than limit, or b ends early. It is iterative: pending
// counts the values still to read at each open level.
func checkDepth(b []byte, limit int) error {
	pending := []int{1}
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		if len(b) == 0 {
			return errTooDeep
		}
		c := b[0]
		b = b[1:]
		skip, children := 0, 0
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			children = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			children = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c == 0xce || c == 0xd2 || c == 0xca:
			skip = 4
		case c == 0xcf || c == 0xd3 || c == 0xcb:
			skip = 8
		case c == 0xd4:
			skip = 2
		case c == 0xd5:
			skip = 3
		case c == 0xd6:
			skip = 5
		case c == 0xd7:
			skip = 9
		case c == 0xd8:
			skip = 17
		case c == 0xc4, c == 0xc5, c == 0xc6, c == 0xc7, c == 0xc8, c == 0xc9, c == 0xd9, c == 0xda, c == 0xdb:
			w, ext := lengthOf(c)
			if len(b) < w {
				return errTooDeep
			}
			skip = readLen(b[:w]) + ext
			b = b[w:]
		case c == 0xdc || c == 0xde:
			if len(b) < 2 {
				return errTooDeep
			}
			children = readLen(b[:2])
			b = b[2:]
			if c == 0xde {
				children *= 2
			}
		case c == 0xdd || c == 0xdf:
			if len(b) < 4 {
				return errTooDeep
			}
			children = readLen(b[:4])
			b = b[4:]
			if c == 0xdf {
				children *= 2
			}
		default: // 0xc1, never used
			return errTooDeep
		}
		if skip > len(b) {
			return errTooDeep
		}
		b = b[skip:]
		if children > len(b) {
			return errTooDeep // each value takes a byte at least
		}
		if children > 0 {
			if len(pending) >= limit {
				return errTooDeep
			}
			pending = append(pending, children)
		}
	}
	return nil
}

// lengthOf returns, for a str, bin or ext header byte, the width of its
// length and how many bytes follow the length besides the data (an
// ext's type).
func lengthOf(c byte) (width, extra int) {
	switch c {
	case 0xc4, 0xd9:
		return 1, 0
	case 0xc5, 0xda:
		return 2, 0
	case 0xc6, 0xdb:
		return 4, 0
	case 0xc7:
		return 1, 1
	case 0xc8:
		return 2, 1
	}
	return 4, 1 // 0xc9
}

// readLen reads a big-endian length of 1, 2 or 4 bytes.
func readLen(b []byte) int {
	n := 0
	for _, x := range b {
		n = n<<8 | int(x)
	}
	return n
}
