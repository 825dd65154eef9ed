package sioclient

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// TestPlainEventsEncodeAsAnyEvent checks the fast encoding of typed
// calls' events against siopacket's, message for message, and that it
// leaves every other event to the general path.
func TestPlainEventsEncodeAsAnyEvent(t *testing.T) {
	id := uint64(1234567)
	for _, tc := range []struct {
		nsp, event string
		args       []any
		ackID      *uint64
		plain      bool
	}{
		{"/chat.v1.ChatService", "chat.v1.ChatService/SendMessage", []any{[]byte("\n\x05lobby"), json.RawMessage(`{"timeoutMs":29999,"id":"7"}`)}, &id, true},
		{"/", "m", []any{[]byte{}}, nil, true},
		{"", "m", []any{json.RawMessage(`[1,2]`), []byte{1}, []byte{2}}, &id, true},
		{"/ns", "m", nil, nil, true},
		{"/ns", "m", []any{json.RawMessage(`"x"`)}, nil, true},
		{"/ñs", "m", []any{[]byte{0xff}}, nil, true},
		{"/ns", "m", []any{json.RawMessage("\"\xff\"")}, nil, false}, // repaired by the general path
		{"/ns", "<m>", []any{[]byte{1}}, nil, false},
		{"/ns", "é", []any{[]byte{1}}, nil, false},
		{"/ns", "m", []any{[]byte(nil)}, nil, false},
		{"/ns", "m", []any{json.RawMessage(nil)}, nil, false},
		{"/ns", "m", []any{"text"}, nil, false},
		{"/ns", "m", []any{json.RawMessage(`1`), 2}, nil, false},
	} {
		p, err := siopacket.NewEvent(tc.nsp, tc.event, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if tc.ackID != nil {
			p.ID, p.HasID = *tc.ackID, true
		}
		want := encode(&p)
		got, ok := encodePlainEvent(nil, tc.nsp, tc.event, tc.args, tc.ackID)
		if ok != tc.plain {
			t.Errorf("%q %v: plain %v, want %v", tc.event, tc.args, ok, tc.plain)
		}
		if ok && !sameMessages(got, want) {
			t.Errorf("%q %v: encoded as %v, want %v", tc.event, tc.args, got, want)
		}
		if all, err := encodeEvent(nil, tc.nsp, tc.event, tc.args, tc.ackID); err != nil || !sameMessages(all, want) {
			t.Errorf("%q %v: encodeEvent gave %v %v, want %v", tc.event, tc.args, all, err, want)
		}
	}
}

func sameMessages(a, b []engineio.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
