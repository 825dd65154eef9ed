package socketio

import (
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// TestHoldQueueReadsOffsetsInEachFormat: after a recovery, a broadcast
// that arrives live although it was sent as missed is dropped; the hold
// queue finds its offset in the messages whatever the format.
func TestHoldQueueReadsOffsetsInEachFormat(t *testing.T) {
	for _, parser := range []sioparser.Parser{nil, sioparser.MessagePack{}} {
		p, err := siopacket.NewEvent("/", "news", []any{1, []byte{2}, []byte{3}})
		if err != nil {
			t.Fatal(err)
		}
		siopacket.AppendStringArg(&p, "offset-7")
		var msgs []engineio.Message
		if parser == nil {
			msgs = encode(&p, false)
		} else if msgs, err = parser.Encode(&p); err != nil {
			t.Fatal(err)
		}
		if got := frameOffset(msgs, parser); got != "offset-7" {
			t.Errorf("%T: offset %q", parser, got)
		}
		var q holdQueue
		q.resent, q.resentUntil = map[string]bool{"offset-7": true}, time.Now().Add(time.Minute)
		q.active.Store(true)
		if !q.intercept(msgs, parser) {
			t.Errorf("%T: a broadcast sent as missed was not dropped", parser)
		}
		if q.intercept(msgs, parser) {
			t.Errorf("%T: dropped twice", parser)
		}
	}
}

func TestCustomParserDefaultIsNil(t *testing.T) {
	for _, p := range []sioparser.Parser{nil, sioparser.Default{}, &sioparser.Default{}} {
		if customParser(p) != nil {
			t.Errorf("%T is not the written-out default", p)
		}
	}
	if customParser(sioparser.MessagePack{}) == nil {
		t.Error("MessagePack taken for the default")
	}
}
