package sioparser

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// benchPackets are representative events: a short string, an object of
// the usual kinds of values, and binary of two sizes.
func benchPackets(b *testing.B) []struct {
	name string
	p    siopacket.Packet
} {
	object := json.RawMessage(`{"user":"ann","room":"lobby","text":"hello there, how are you today?","ts":1701541886653,"tags":["a","b","c"],"score":0.75,"ok":true}`)
	var out []struct {
		name string
		p    siopacket.Packet
	}
	for _, c := range []struct {
		name string
		arg  any
	}{{"string", "hello"}, {"object", object}, {"binary1K", bytes.Repeat([]byte{7}, 1<<10)}, {"binary64K", bytes.Repeat([]byte{7}, 64<<10)}} {
		p, err := siopacket.NewEvent("/", "echo", []any{c.arg})
		if err != nil {
			b.Fatal(err)
		}
		p.ID, p.HasID = 42, true
		out = append(out, struct {
			name string
			p    siopacket.Packet
		}{c.name, p})
	}
	return out
}

var benchParsers = []struct {
	name string
	p    Parser
}{{"default", Default{}}, {"msgpack", MessagePack{}}}

// BenchmarkEncode encodes each packet with each parser; wire-B/op is the
// size of the Engine.IO messages (with the type byte a text message
// carries on a WebSocket).
func BenchmarkEncode(b *testing.B) {
	for _, pk := range benchPackets(b) {
		for _, parser := range benchParsers {
			b.Run(pk.name+"/"+parser.name, func(b *testing.B) {
				b.ReportAllocs()
				wire := 0
				for b.Loop() {
					msgs, err := parser.p.Encode(&pk.p)
					if err != nil {
						b.Fatal(err)
					}
					wire = 0
					for _, m := range msgs {
						wire += len(m.Data)
						if !m.Binary {
							wire++
						}
					}
				}
				b.ReportMetric(float64(wire), "wire-B/op")
			})
		}
	}
}

// BenchmarkDecode decodes each packet's messages and parses its
// arguments, as a server does before calling a handler.
func BenchmarkDecode(b *testing.B) {
	for _, pk := range benchPackets(b) {
		for _, parser := range benchParsers {
			b.Run(pk.name+"/"+parser.name, func(b *testing.B) {
				msgs, err := parser.p.Encode(&pk.p)
				if err != nil {
					b.Fatal(err)
				}
				dec := parser.p.NewDecoder(siopacket.Limits{})
				b.ReportAllocs()
				for b.Loop() {
					for _, m := range msgs {
						p, ok, err := dec.Decode(m.Data, m.Binary)
						if err != nil {
							b.Fatal(err)
						}
						if ok {
							if _, _, err := siopacket.ParseEvent(&p); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			})
		}
	}
}
