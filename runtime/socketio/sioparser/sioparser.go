// Package sioparser chooses how Socket.IO packets travel in Engine.IO
// messages: a Parser encodes each packet into messages and decodes a
// connection's messages back into packets. Both ends of a connection must
// use the same parser.
//
// Give one to the server (socketio.Options.Parser) or the Go client
// (sioclient.Options.Parser). Default is the reference socket.io-parser's
// text format, and what a nil Parser means; MessagePack is the
// socket.io-msgpack-parser npm package's format, for clients created with
// its parser option:
//
//	srv := socketio.NewServer(&socketio.Options{Parser: sioparser.MessagePack{}})
//	m, err := sioclient.NewManager(url, &sioclient.Options{Parser: sioparser.MessagePack{}})
//
// The rest of the runtime sees one packet model whatever the parser
// (siopacket.Packet: JSON data with binary attachments), so events, acks,
// broadcasts, connection state recovery and adapters work the same over
// every parser; a parser translates at the wire.
package sioparser

import (
	"fmt"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Parser turns packets into Engine.IO messages and back. Its methods may
// be called from many goroutines at once.
type Parser interface {
	// Encode returns the messages that carry p, in order. The caller owns
	// the slice, but not the bytes: a broadcast queues the same messages
	// for every recipient, so nobody may change them afterwards. It fails
	// only for a packet the format cannot carry.
	Encode(p *siopacket.Packet) ([]engineio.Message, error)
	// NewDecoder returns a decoder for the messages of one connection,
	// refusing packets beyond lim.
	NewDecoder(lim siopacket.Limits) Decoder
}

// Decoder decodes the incoming messages of one connection, in order. It
// is used by one goroutine at a time.
type Decoder interface {
	// Decode takes the next message. It returns the packet the message
	// completes (ok), nothing while a packet's parts are still arriving,
	// or an error wrapping siopacket.ErrInvalid, after which the
	// connection is closed. The packet may alias data, which is valid only
	// during the call: parsing its arguments copies them.
	Decode(data []byte, binary bool) (p siopacket.Packet, ok bool, err error)
}

// Default is the reference socket.io-parser's format: a text message per
// packet, followed by one binary message per attachment.
type Default struct{}

// MessagePack is the socket.io-msgpack-parser format (3.x, encoded as
// notepack.io does): one binary message per packet, a map holding the
// packet's type, data, namespace and ack id, with binary values inline.
// See siopacket.AppendMsgpack and DecodeMsgpack for how values translate.
type MessagePack struct{}

var (
	_ Parser = Default{}
	_ Parser = MessagePack{}
)

// Encode implements Parser.
func (Default) Encode(p *siopacket.Packet) ([]engineio.Message, error) {
	size := 24 + len(p.Namespace) + len(p.Data)
	msgs := make([]engineio.Message, 1+len(p.Attachments))
	msgs[0] = engineio.Message{Data: siopacket.AppendText(make([]byte, 0, size), p)}
	for i, a := range p.Attachments {
		msgs[i+1] = engineio.Message{Data: a, Binary: true}
	}
	return msgs, nil
}

// NewDecoder implements Parser.
func (Default) NewDecoder(lim siopacket.Limits) Decoder { return &textDecoder{lim: lim} }

// textDecoder decodes the default format.
type textDecoder struct {
	lim   siopacket.Limits
	reasm siopacket.Reassembler
}

func (d *textDecoder) Decode(data []byte, binary bool) (siopacket.Packet, bool, error) {
	if binary {
		return d.reasm.Add(data)
	}
	if d.reasm.Waiting() {
		d.reasm.Reset()
		return siopacket.Packet{}, false, siopacket.ErrInvalid
	}
	p, n, err := siopacket.DecodeText(data, d.lim)
	if err != nil {
		return siopacket.Packet{}, false, err
	}
	if n > 0 {
		d.reasm.Start(p)
		return siopacket.Packet{}, false, nil
	}
	return p, true, nil
}

// Encode implements Parser.
func (MessagePack) Encode(p *siopacket.Packet) ([]engineio.Message, error) {
	size := 32 + len(p.Namespace) + len(p.Data)
	for _, a := range p.Attachments {
		size += 5 + len(a)
	}
	b, err := siopacket.AppendMsgpack(make([]byte, 0, size), p)
	if err != nil {
		return nil, err
	}
	return []engineio.Message{{Data: b, Binary: true}}, nil
}

// NewDecoder implements Parser.
func (MessagePack) NewDecoder(lim siopacket.Limits) Decoder { return msgpackDecoder{lim: lim} }

type msgpackDecoder struct{ lim siopacket.Limits }

var errTextMessage = fmt.Errorf("%w: a text message in the MessagePack format", siopacket.ErrInvalid)

func (d msgpackDecoder) Decode(data []byte, binary bool) (siopacket.Packet, bool, error) {
	if !binary {
		// The format sends binary messages only.
		return siopacket.Packet{}, false, errTextMessage
	}
	p, err := siopacket.DecodeMsgpack(data, d.lim)
	if err != nil {
		return siopacket.Packet{}, false, err
	}
	return p, true, nil
}
