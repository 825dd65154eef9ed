package eiopacket_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// oraclePacket is a packet as the oracle script reads and writes it.
type oraclePacket struct {
	Type string  `json:"type"`
	Text *string `json:"text,omitempty"`
	Bin  *string `json:"bin,omitempty"`
}

type oracleCase struct {
	Packets       []oraclePacket `json:"packets"`
	Binary        bool           `json:"binary"`
	Payload       string         `json:"payload"`
	PayloadBinary bool           `json:"payloadBinary"`
}

type oracleResult struct {
	Encoded struct {
		Binary bool   `json:"binary"`
		Data   string `json:"data"`
	} `json:"encoded"`
	Decoded json.RawMessage `json:"decoded"`
}

var typeNames = map[eiopacket.Type]string{
	eiopacket.Open: "open", eiopacket.Close: "close", eiopacket.Ping: "ping", eiopacket.Pong: "pong",
	eiopacket.Message: "message", eiopacket.Upgrade: "upgrade", eiopacket.Noop: "noop",
}

// randomText mixes ASCII, two- and three-byte characters, characters
// outside the Basic Multilingual Plane (two UTF-16 units) and digits and
// colons that look like framing.
func randomText(r *rand.Rand) string {
	pieces := []string{"a", "hello", "4", ":", "12:", "é", "€", "😀", "𝄞", "\n", `"`, "b4", ""}
	var b bytes.Buffer
	for range r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomPackets(r *rand.Rand) []eiopacket.Packet {
	var ps []eiopacket.Packet
	for range 1 + r.IntN(4) {
		switch r.IntN(4) {
		case 0:
			data := make([]byte, r.IntN(20))
			for i := range data {
				data[i] = byte(r.IntN(256))
			}
			ps = append(ps, eiopacket.Packet{Type: eiopacket.Message, Data: data, Binary: true})
		case 1:
			ps = append(ps, eiopacket.Packet{Type: eiopacket.Type('0' + r.IntN(7))})
		default:
			ps = append(ps, eiopacket.Packet{Type: eiopacket.Message, Data: []byte(randomText(r))})
		}
	}
	return ps
}

func toOracle(ps []eiopacket.Packet) []oraclePacket {
	var out []oraclePacket
	for _, p := range ps {
		op := oraclePacket{Type: typeNames[p.Type]}
		if p.Binary {
			s := base64.StdEncoding.EncodeToString(p.Data)
			op.Bin = &s
		} else if len(p.Data) > 0 {
			s := string(p.Data)
			op.Text = &s
		}
		out = append(out, op)
	}
	return out
}

// TestPayloadV3MatchesReference encodes and decodes random revision 3
// payloads with this package and with the reference server's own parser:
// each side must read what the other writes, and write the same bytes.
func TestPayloadV3MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var cases []oracleCase
	var ours [][]eiopacket.Packet
	for range 400 {
		ps := randomPackets(r)
		c := oracleCase{Packets: toOracle(ps), Binary: r.IntN(2) == 0}
		payload, isBinary := eiopacket.AppendPayloadV3(nil, ps, c.Binary)
		c.PayloadBinary = isBinary
		if isBinary {
			c.Payload = base64.StdEncoding.EncodeToString(payload)
		} else {
			c.Payload = string(payload)
		}
		cases = append(cases, c)
		ours = append(ours, ps)
	}
	in, _ := json.Marshal(cases)
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, in, 0o600); err != nil {
		t.Fatal(err)
	}
	var results []oracleResult
	if err := json.Unmarshal(nodepeer.Output(t, 30*time.Second, "eio3_parser.mjs", file), &results); err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		c := cases[i]
		// Our encoding, decoded by the reference, gives back the packets.
		want, _ := json.Marshal(c.Packets)
		var got []oraclePacket
		if json.Unmarshal(res.Decoded, &got) != nil {
			t.Fatalf("case %d: the reference could not decode our payload %q: %s", i, c.Payload, res.Decoded)
		}
		if g, _ := json.Marshal(got); !bytes.Equal(normalize(g), normalize(want)) {
			t.Fatalf("case %d: the reference decoded our payload %q as %s, want %s", i, c.Payload, g, want)
		}
		// The reference's encoding is byte for byte ours.
		if res.Encoded.Binary != c.PayloadBinary || res.Encoded.Data != c.Payload {
			t.Fatalf("case %d: the reference encodes %+v as %+v, we as %q (binary %v)", i, c.Packets, res.Encoded, c.Payload, c.PayloadBinary)
		}
		// And we decode it back into the packets.
		body := []byte(c.Payload)
		if c.PayloadBinary {
			body, _ = base64.StdEncoding.DecodeString(c.Payload)
		}
		var back []eiopacket.Packet
		err := eiopacket.DecodePayloadV3(body, c.PayloadBinary, func(p eiopacket.Packet) error {
			p.Data = bytes.Clone(p.Data)
			back = append(back, p)
			return nil
		})
		if err != nil {
			t.Fatalf("case %d: decoding %q: %v", i, c.Payload, err)
		}
		if g, w := toOracle(back), toOracle(ours[i]); !jsonEqual(g, w) {
			t.Fatalf("case %d: decoded %q as %+v, want %+v", i, c.Payload, g, w)
		}
	}
}

// normalize makes an absent text and an empty one the same: the reference
// decodes "4" as a message without data.
func normalize(b []byte) []byte { return bytes.ReplaceAll(b, []byte(`,"text":""`), nil) }

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(normalize(x), normalize(y))
}

// TestDecodePayloadV3Refuses checks that broken framing is an error, not a
// guess: the reference drops such payloads whole too.
func TestDecodePayloadV3Refuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		binary  bool
	}{
		{"empty", "", false},
		{"no colon", "4hello", false},
		{"length past the end", "9:4hi", false},
		{"length not a number", "x:4", false},
		{"length splits a surrogate pair", "2:4😀", false},
		{"too many digits", "12345678901:4", false},
		{"bad type", "2:9x", false},
		{"bad base64", "4:b4!!", false},
		{"invalid UTF-8", "2:4\xff", false},
		{"binary: empty", "", true},
		{"binary: bad flag", "\x02\x01\xff4", true},
		{"binary: no length", "\x00\xff4", true},
		{"binary: digit over 9", "\x00\x0a\xff4", true},
		{"binary: no end of length", "\x00\x01", true},
		{"binary: length past the end", "\x00\x05\xff4", true},
		{"binary: binary record of wrong type", "\x01\x02\xff\x02a", true},
		{"binary: invalid UTF-8 text", "\x00\x02\xff4\xff", true},
	} {
		err := eiopacket.DecodePayloadV3([]byte(tc.payload), tc.binary, func(eiopacket.Packet) error { return nil })
		if err == nil {
			t.Errorf("%s: %q decoded without error", tc.name, tc.payload)
		}
	}
}

func FuzzDecodePayloadV3(f *testing.F) {
	f.Add([]byte("6:4hello2:40"), false)
	f.Add([]byte("\x00\x02\xff40\x01\x03\xff\x04ab"), true)
	f.Add([]byte("6:b4AQI="), false)
	f.Fuzz(func(t *testing.T, payload []byte, binary bool) {
		var ps []eiopacket.Packet
		err := eiopacket.DecodePayloadV3(payload, binary, func(p eiopacket.Packet) error {
			p.Data = bytes.Clone(p.Data)
			ps = append(ps, p)
			return nil
		})
		if err != nil || len(ps) == 0 {
			return
		}
		// What decodes re-encodes to a payload that decodes the same.
		again, isBinary := eiopacket.AppendPayloadV3(nil, ps, true)
		var back []eiopacket.Packet
		if err := eiopacket.DecodePayloadV3(again, isBinary, func(p eiopacket.Packet) error {
			p.Data = bytes.Clone(p.Data)
			back = append(back, p)
			return nil
		}); err != nil {
			t.Fatalf("re-encoded %q as %q, which does not decode: %v", payload, again, err)
		}
		if !jsonEqual(toOracle(back), toOracle(ps)) {
			t.Fatalf("%q: decoded %+v, re-encoded and decoded %+v", payload, ps, back)
		}
	})
}
