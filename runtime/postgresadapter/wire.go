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
	"github.com/sio-dev/sio/runtime/internal/adapterwire"
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
	if err := adapterwire.CheckMsgpack(payload, maxDepth); err != nil {
		return nil, fmt.Errorf("postgresadapter: attachment: %w", err)
	}
	var env struct {
		UID  string                     `msgpack:"uid"`
		Nsp  string                     `msgpack:"nsp"`
		Type clusteradapter.MessageType `msgpack:"type"`
		Data msgpack.RawMessage         `msgpack:"data"`
	}
	if err := adapterwire.UnmarshalMsgpack(payload, &env); err != nil {
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
	if err := adapterwire.UnmarshalMsgpack(env.Data, m.Data); err != nil {
		return nil, fmt.Errorf("postgresadapter: %s attachment data: %w", m.Type, err)
	}
	return m, nil
}
