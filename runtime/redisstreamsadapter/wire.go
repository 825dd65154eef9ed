package redisstreamsadapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/adapterwire"
)

// transport is the clusteradapter.Transport of an Adapter.
type transport struct{ a *Adapter }

var (
	_ clusteradapter.ServerCounter = transport{}
	_ clusteradapter.Enqueuer      = transport{}
)

// errBrokerDown is what a publish returns, at once, while Redis is known
// to be unreachable.
var errBrokerDown = errors.New("redisstreamsadapter: Redis is unreachable")

// ephemeral reports whether m travels on pub/sub rather than in the
// stream, as the reference decides: what waits for answers is worth
// nothing to a node that reads it late.
func ephemeral(m *clusteradapter.Message) bool {
	switch m.Type {
	case clusteradapter.Broadcast:
		return m.RequestID() != ""
	case clusteradapter.ServerSideEmit, clusteradapter.FetchSockets:
		return true
	}
	return false
}

// Publish implements clusteradapter.Transport: the stream entry's id is
// the message's offset. The entry goes through the append queue, after
// what is queued already, and Publish waits for its id.
func (t transport) Publish(ctx context.Context, m *clusteradapter.Message) (string, error) {
	a := t.a
	if a.hub.isDown() {
		a.hub.drop()
		return "", errBrokerDown
	}
	if ephemeral(m) {
		return "", a.hub.publish(ctx, a.channel, m)
	}
	values, err := encodeEntry(m)
	if err != nil {
		return "", err
	}
	return a.hub.pub.append(ctx, values)
}

// Enqueue implements clusteradapter.Enqueuer: the stream entry is queued,
// to be appended in order with the others, and Enqueue returns at once.
// What travels on pub/sub is published as Publish does.
func (t transport) Enqueue(m *clusteradapter.Message) error {
	a := t.a
	if ephemeral(m) {
		if a.hub.isDown() {
			a.hub.drop()
			return errBrokerDown
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
		defer cancel()
		return a.hub.publish(ctx, a.channel, m)
	}
	values, err := encodeEntry(m)
	if err != nil {
		return err
	}
	return a.hub.pub.enqueue(values)
}

// PublishResponse implements clusteradapter.Transport.
func (t transport) PublishResponse(ctx context.Context, uid string, m *clusteradapter.Message) error {
	a := t.a
	if a.hub.isDown() {
		a.hub.drop()
		return errBrokerDown
	}
	return a.hub.publish(ctx, a.channel+uid+"#", m)
}

// ServerCount implements clusteradapter.ServerCounter: the subscribers
// of the namespace's channel, every node of every language.
func (t transport) ServerCount(ctx context.Context) (int, error) {
	counts, err := t.a.rdb.PubSubNumSub(ctx, t.a.channel).Result()
	if err != nil {
		return 1, err
	}
	return max(1, int(counts[t.a.channel])), nil
}

// encodeEntry lays m out as the reference's stream entry: uid, nsp, type
// as a decimal string, and data as JSON, or as base64 msgpack when it
// holds binary.
func encodeEntry(m *clusteradapter.Message) (map[string]any, error) {
	values := map[string]any{"uid": m.UID, "nsp": m.Nsp, "type": strconv.Itoa(int(m.Type))}
	if m.Data == nil {
		return values, nil
	}
	if m.HasBinary() {
		b, err := marshalMsgpack(m.Data)
		if err != nil {
			return nil, err
		}
		values["data"] = base64.StdEncoding.EncodeToString(b)
		return values, nil
	}
	b, err := json.Marshal(m.Data)
	if err != nil {
		return nil, err
	}
	values["data"] = string(b)
	return values, nil
}

// decodeEntry reads a stream entry back. An entry without a namespace is
// not a message (the reference skips those too): it returns nil, nil.
func decodeEntry(values map[string]any) (*clusteradapter.Message, error) {
	field := func(k string) string {
		s, _ := values[k].(string)
		return s
	}
	if field("nsp") == "" {
		return nil, nil
	}
	typ, err := strconv.Atoi(field("type"))
	if err != nil {
		return nil, fmt.Errorf("redisstreamsadapter: entry type %q: %w", field("type"), err)
	}
	m := &clusteradapter.Message{UID: field("uid"), Nsp: field("nsp"), Type: clusteradapter.MessageType(typ)}
	data := field("data")
	if m.Data = clusteradapter.NewData(m.Type); m.Data == nil || data == "" {
		m.Data = nil
		return m, nil
	}
	if strings.HasPrefix(data, "{") {
		err = json.Unmarshal([]byte(data), m.Data)
	} else {
		var b []byte
		if b, err = base64.StdEncoding.DecodeString(data); err == nil {
			err = adapterwire.UnmarshalMsgpack(b, m.Data)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("redisstreamsadapter: %s entry data: %w", m.Type, err)
	}
	return m, nil
}

// marshalMsgpack encodes v as the reference's msgpack does objects:
// fields by their msgpack tag, else their json tag.
func marshalMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodePubSub decodes a pub/sub message: msgpack of the whole message,
// type as a number.
func decodePubSub(payload []byte) (*clusteradapter.Message, error) {
	var env struct {
		UID  string                     `msgpack:"uid"`
		Nsp  string                     `msgpack:"nsp"`
		Type clusteradapter.MessageType `msgpack:"type"`
		Data msgpack.RawMessage         `msgpack:"data"`
	}
	if err := adapterwire.UnmarshalMsgpack(payload, &env); err != nil {
		return nil, err
	}
	m := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
	if m.Data = clusteradapter.NewData(m.Type); m.Data != nil && len(env.Data) > 0 {
		if err := adapterwire.UnmarshalMsgpack(env.Data, m.Data); err != nil {
			return nil, err
		}
	}
	return m, nil
}
