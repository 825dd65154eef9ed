package socketio

import (
	"sync"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// scratchPool lends buffers for encoding payloads before the exact-size
// frame is built.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// eventPacket builds an EVENT (or BINARY_EVENT) packet.
func eventPacket(nsp, event string, args []any) (siopacket.Packet, error) {
	buf := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(buf)
	data, atts, err := siopacket.AppendEventData((*buf)[:0], nil, event, args)
	if err != nil {
		return siopacket.Packet{}, err
	}
	*buf = data
	p := siopacket.Packet{Type: siopacket.Event, Namespace: nsp, Data: append([]byte(nil), data...), Attachments: atts}
	if len(atts) > 0 {
		p.Type = siopacket.BinaryEvent
	}
	return p, nil
}

// ackPacket builds an ACK (or BINARY_ACK) packet.
func ackPacket(nsp string, id uint64, args []any) (siopacket.Packet, error) {
	buf := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(buf)
	data, atts, err := siopacket.AppendAckData((*buf)[:0], nil, args)
	if err != nil {
		return siopacket.Packet{}, err
	}
	*buf = data
	p := siopacket.Packet{Type: siopacket.Ack, Namespace: nsp, ID: id, HasID: true, Data: append([]byte(nil), data...), Attachments: atts}
	if len(atts) > 0 {
		p.Type = siopacket.BinaryAck
	}
	return p, nil
}

// encode turns a packet into the Engine.IO messages that carry it: the
// text frame, then one binary message per attachment. The result is
// immutable and may be queued for any number of connections.
func encode(p *siopacket.Packet, noCompress bool) []engineio.Message {
	size := 24 + len(p.Namespace) + len(p.Data)
	text := siopacket.AppendText(make([]byte, 0, size), p)
	msgs := make([]engineio.Message, 1+len(p.Attachments))
	msgs[0] = engineio.Message{Data: text, NoCompress: noCompress}
	for i, a := range p.Attachments {
		msgs[i+1] = engineio.Message{Data: a, Binary: true, NoCompress: noCompress}
	}
	return msgs
}
