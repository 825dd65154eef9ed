package redisstreamsadapter

import (
	"encoding/base64"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/clusteradapter"
)

// A stream entry, whatever its fields hold, decodes or fails; never
// panics. One that decodes encodes again.
func FuzzDecodeEntry(f *testing.F) {
	bin, _ := msgpack.Marshal(map[string]any{"packet": map[string]any{"type": 2, "data": []any{"e", []byte{1}}}, "opts": map[string]any{"rooms": []any{}, "except": []any{}}})
	for _, seed := range [][3]string{
		{"/", "3", `{"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`},
		{"/", "3", base64.StdEncoding.EncodeToString(bin)},
		{"/", "4", `{"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}`},
		{"/", "6", `{"opts":{"rooms":[],"except":[]},"close":true}`},
		{"/", "2", ""},
		{"/chat", "13", ""},
		{"", "3", "{}"},
		{"/", "x", "{"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, nsp, typ, data string) {
		m, err := decodeEntry(map[string]any{"uid": "u", "nsp": nsp, "type": typ, "data": data})
		if err != nil || m == nil {
			return
		}
		_, _, _ = m.DecodeBroadcast()
		if _, err := encodeEntry(m); err != nil {
			t.Errorf("a decoded %s entry does not encode: %v", m.Type, err)
		}
	})
}

// A pub/sub message decodes or fails; never panics.
func FuzzDecodePubSub(f *testing.F) {
	for _, m := range []*clusteradapter.Message{
		{UID: "u", Nsp: "/", Type: clusteradapter.FetchSockets},
		{UID: "u", Nsp: "/", Type: clusteradapter.ServerSideEmit},
		{UID: "u", Nsp: "/", Type: clusteradapter.BroadcastAck},
	} {
		m.Data = clusteradapter.NewData(m.Type)
		b, err := marshalMsgpack(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := decodePubSub(payload)
		if err != nil {
			return
		}
		_ = m.HasBinary()
		_ = m.RequestID()
		_ = m.Rooms()
	})
}
