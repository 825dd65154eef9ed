package socketio

import (
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// customParser returns p, or nil for the default parser: the server's
// paths for that one are written out, so that no packet pays for an
// interface call or a decoder allocation.
func customParser(p sioparser.Parser) sioparser.Parser {
	switch p.(type) {
	case nil, sioparser.Default, *sioparser.Default:
		return nil
	}
	return p
}

// encodePacket turns a packet into the Engine.IO messages that carry it,
// in the server's format. The result is immutable and may be queued for
// any number of connections.
func (srv *Server) encodePacket(p *siopacket.Packet, noCompress bool) ([]engineio.Message, error) {
	if srv.opts.Parser == nil {
		return encode(p, noCompress), nil
	}
	return srv.encodeCustom(p, noCompress)
}

// encodeCustom is encodePacket for a custom parser (apart, so that the
// default's path inlines).
func (srv *Server) encodeCustom(p *siopacket.Packet, noCompress bool) ([]engineio.Message, error) {
	msgs, err := srv.opts.Parser.Encode(p)
	if err != nil {
		return nil, err
	}
	if noCompress {
		for i := range msgs {
			msgs[i].NoCompress = true
		}
	}
	return msgs, nil
}

// packetMessages is encodePacket for a packet the server made itself (a
// CONNECT, CONNECT_ERROR or DISCONNECT, or a broadcast encoded before),
// which every format can carry: it returns none if encoding fails.
func (srv *Server) packetMessages(p *siopacket.Packet) []engineio.Message {
	msgs, _ := srv.encodePacket(p, false)
	return msgs
}

// decodeWith handles an incoming message in a custom format. dec is made
// on the first message; the read goroutine is its only user.
func (c *client) decodeWith(parser sioparser.Parser, data []byte, binary bool) {
	if c.dec == nil {
		c.dec = parser.NewDecoder(siopacket.Limits{MaxAttachments: c.srv.opts.MaxAttachments})
	}
	p, ok, err := c.dec.Decode(data, binary)
	if err != nil {
		c.protocolError(err)
	} else if ok {
		c.dispatch(&p)
	}
}
