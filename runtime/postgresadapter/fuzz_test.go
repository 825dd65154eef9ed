package postgresadapter

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/adapterwire"
)

// A NOTIFY payload, whatever it holds, decodes or fails; never panics. One
// that decodes to a whole message encodes again.
func FuzzDecodeNotification(f *testing.F) {
	for _, seed := range []string{
		`{"uid":"u","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}}`,
		`{"uid":"u","nsp":"/","type":4,"data":{"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}}`,
		`{"uid":"u","nsp":"/","type":6,"data":{"opts":{"rooms":[],"except":[]},"close":true}}`,
		`{"uid":"u","nsp":"/","type":7,"data":{"opts":{"rooms":[],"except":[]},"requestId":"q"}}`,
		`{"uid":"u","nsp":"/","type":11,"data":{"requestId":"q","clientCount":2}}`,
		`{"uid":"u","nsp":"/","type":2}`,
		`{"uid":"u","type":3,"attachmentId":"42"}`,
		`{"uid":"u","type":3,"attachmentId":42}`,
		`{"uid":"u","type":3,"attachmentId":"x"}`,
		`{"type":3}`,
		`{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, id, err := decodeNotification(payload)
		if err != nil || id != 0 {
			return
		}
		_, _, _ = m.DecodeBroadcast()
		_ = m.RequestID()
		_ = m.Rooms()
		if _, err := encodeNotification(m, 8000); err != nil {
			t.Errorf("a decoded %s notification does not encode: %v", m.Type, err)
		}
	})
}

// An attachment row decodes or fails; never panics, however deep it
// nests. One that decodes encodes again.
func FuzzDecodeAttachment(f *testing.F) {
	for _, m := range []*clusteradapter.Message{
		{UID: "u", Nsp: "/", Type: clusteradapter.Broadcast},
		{UID: "u", Nsp: "/", Type: clusteradapter.ServerSideEmit},
		{UID: "u", Nsp: "/", Type: clusteradapter.BroadcastAck},
		{UID: "u", Nsp: "/", Type: clusteradapter.Heartbeat},
	} {
		m.Data = clusteradapter.NewData(m.Type)
		b, err := encodeAttachment(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// An answer whose data repeats its packet key, each a map: it once
	// panicked the decoder.
	repeated, err := msgpack.Marshal(struct {
		UID  string                     `msgpack:"uid"`
		Nsp  string                     `msgpack:"nsp"`
		Type clusteradapter.MessageType `msgpack:"type"`
		Data msgpack.RawMessage         `msgpack:"data"`
	}{"u", "/", clusteradapter.BroadcastAck, []byte{0x82, 0xa6, 'p', 'a', 'c', 'k', 'e', 't', 0x81, 0xa1, 'x', 1, 0xa6, 'p', 'a', 'c', 'k', 'e', 't', 0x81, 0xa1, 'y', 2}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := decodeAttachment(repeated); err == nil {
		f.Fatal("an attachment that repeats a key decoded")
	}
	f.Add(repeated)
	f.Add(bytes.Repeat([]byte{0x91}, 1000))
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := decodeAttachment(payload)
		if err != nil {
			return
		}
		_, _, _ = m.DecodeBroadcast()
		_ = m.HasBinary()
		if _, err := encodeAttachment(m); err != nil {
			t.Errorf("a decoded %s attachment does not encode: %v", m.Type, err)
		}
	})
}

// CheckMsgpack accepts what the encoder writes and refuses what nests
// deeper than its limit.
func TestCheckDepth(t *testing.T) {
	m := &clusteradapter.Message{UID: "u", Nsp: "/", Type: clusteradapter.Broadcast, Data: clusteradapter.NewData(clusteradapter.Broadcast)}
	b, err := encodeAttachment(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := adapterwire.CheckMsgpack(b, maxDepth); err != nil {
		t.Errorf("an encoded broadcast: %v", err)
	}
	nested := append(bytes.Repeat([]byte{0x91}, 10), 0xc0)
	if err := adapterwire.CheckMsgpack(nested, 11); err != nil {
		t.Errorf("10 levels, limit 11: %v", err)
	}
	if err := adapterwire.CheckMsgpack(nested, 10); err == nil {
		t.Error("10 levels, limit 10: accepted")
	}
	if err := adapterwire.CheckMsgpack(nested[:5], 64); err == nil {
		t.Error("a truncated value: accepted")
	}
}
