package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// parserPeer is a raw WebSocket client speaking one parser's format, so
// that a benchmark sees the server's work per packet and the bytes on the
// wire for that format.
type parserPeer struct {
	ws     *websocket.Conn
	parser sioparser.Parser
	dec    sioparser.Decoder
	wire   int64 // WebSocket payload bytes, both ways
}

func newParserPeer(b *testing.B, parser sioparser.Parser) *parserPeer {
	b.Helper()
	srv := NewServer(&Options{Parser: parser})
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(_ *Socket, args Args, ack Ack) {
			if data, ok := args.Bytes(0); ok {
				_ = ack(data)
				return
			}
			_ = ack(args.Raw(0))
		})
	})
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		_ = srv.Close(context.Background())
		hs.Close()
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.Close() })
	if _, _, err := ws.ReadMessage(); err != nil { // open
		b.Fatal(err)
	}
	c := &parserPeer{ws: ws, parser: parser, dec: parser.NewDecoder(siopacket.Limits{})}
	if err := c.send(&siopacket.Packet{Type: siopacket.Connect, Namespace: "/"}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.read(siopacket.Connect, 0); err != nil {
		b.Fatal(err)
	}
	return c
}

func (c *parserPeer) send(p *siopacket.Packet) error {
	msgs, err := c.parser.Encode(p)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Binary {
			err = c.ws.WriteMessage(websocket.BinaryMessage, m.Data)
			c.wire += int64(len(m.Data))
		} else {
			err = c.ws.WriteMessage(websocket.TextMessage, append([]byte{'4'}, m.Data...))
			c.wire += 1 + int64(len(m.Data))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// read returns the next packet of type typ (with ack id id, for an ack),
// answering pings.
func (c *parserPeer) read(typ siopacket.Type, id uint64) (siopacket.Packet, error) {
	for {
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			return siopacket.Packet{}, err
		}
		c.wire += int64(len(msg))
		binary := kind == websocket.BinaryMessage
		if !binary {
			if string(msg) == "2" {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			msg = msg[1:] // the Engine.IO message type
		}
		p, ok, err := c.dec.Decode(msg, binary)
		if err != nil {
			return siopacket.Packet{}, err
		}
		if !ok {
			continue
		}
		if typ == siopacket.Ack && p.Type.IsBinary() {
			p.Type = siopacket.Ack
		}
		if p.Type == typ && (typ != siopacket.Ack || p.ID == id) {
			return p, nil
		}
	}
}

// BenchmarkParserAck is one event and its ack at a time for each parser
// and a few payloads: the client encodes the event and decodes the ack
// with the same parser the server uses. wire-B/op counts WebSocket
// payload bytes both ways.
func BenchmarkParserAck(b *testing.B) {
	object := json.RawMessage(`{"user":"ann","room":"lobby","text":"hello there, how are you today?","ts":1701541886653,"tags":["a","b","c"],"score":0.75,"ok":true}`)
	payloads := []struct {
		name string
		arg  any
	}{
		{"string", "hello"},
		{"object", object},
		{"binary1K", bytes.Repeat([]byte{7}, 1<<10)},
		{"binary64K", bytes.Repeat([]byte{7}, 64<<10)},
	}
	for _, pl := range payloads {
		for _, parser := range []struct {
			name string
			p    sioparser.Parser
		}{{"default", sioparser.Default{}}, {"msgpack", sioparser.MessagePack{}}} {
			b.Run(pl.name+"/"+parser.name, func(b *testing.B) {
				c := newParserPeer(b, parser.p)
				b.ReportAllocs()
				c.wire = 0
				var id uint64
				for b.Loop() {
					p, err := siopacket.NewEvent("/", "echo", []any{pl.arg})
					if err != nil {
						b.Fatal(err)
					}
					p.ID, p.HasID = id, true
					if err := c.send(&p); err != nil {
						b.Fatal(err)
					}
					if _, err := c.read(siopacket.Ack, id); err != nil {
						b.Fatal(fmt.Errorf("ack %d: %w", id, err))
					}
					id++
				}
				b.ReportMetric(float64(c.wire)/float64(id), "wire-B/op")
			})
		}
	}
}
