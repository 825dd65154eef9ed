package socketio

import (
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Args holds the arguments of a received event or ack; see siopacket.Args.
type Args = siopacket.Args

func eventPacket(nsp, event string, args []any) (siopacket.Packet, error) {
	return siopacket.NewEvent(nsp, event, args)
}

// encode turns a packet into the Engine.IO messages that carry it: the
// text frame, then one binary message per attachment. The result is
// immutable and may be queued for any number of connections.
func encode(p *siopacket.Packet, noCompress bool) []engineio.Message {
	size := 24 + len(p.Namespace) + len(p.Data)
	return messages(siopacket.AppendText(make([]byte, 0, size), p), p.Attachments, noCompress)
}

// messages wraps a packet's text frame and attachments as Engine.IO
// messages.
func messages(text []byte, attachments [][]byte, noCompress bool) []engineio.Message {
	msgs := make([]engineio.Message, 1+len(attachments))
	msgs[0] = engineio.Message{Data: text, NoCompress: noCompress}
	for i, a := range attachments {
		msgs[i+1] = engineio.Message{Data: a, Binary: true, NoCompress: noCompress}
	}
	return msgs
}
