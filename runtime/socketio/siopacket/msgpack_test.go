package siopacket

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// mpEvent wraps data as the msgpack EVENT packet {type: 2, data, nsp: "/"}.
func mpEvent(data []byte) []byte {
	b := []byte{0x83, 0xa4, 't', 'y', 'p', 'e', 2, 0xa4, 'd', 'a', 't', 'a'}
	b = append(b, data...)
	return append(b, 0xa3, 'n', 's', 'p', 0xa1, '/')
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestMsgpackJSONRoundTrip checks that what both forms hold survives
// JSON -> msgpack -> JSON unchanged, to the byte.
func TestMsgpackJSONRoundTrip(t *testing.T) {
	for _, data := range []string{
		`["e"]`,
		`["e",null,true,false,0,1,-1,127,128,255,256,-32,-33,-128,-129,65535,65536,-32768,-32769]`,
		`["e",4294967295,4294967296,-2147483648,-2147483649,9223372036854775807,-9223372036854775808,18446744073709551615]`,
		`["e",9007199254740993,0.5,-0.25,1.7976931348623157e+308,5e-324,1e-7,1e+21,123456.789]`,
		`["e","","a","\"\\\n\r\t\u0001","é漢字😀","\u2028"]`,
		`["e",{},[],{"a":{"b":[1,{"c":null}]}},{"":1,"k":"v"}]`,
		`["e","` + strings.Repeat("x", 31) + `","` + strings.Repeat("y", 32) + `","` + strings.Repeat("z", 300) + `","` + strings.Repeat("w", 70000) + `"]`,
		`["e",[` + strings.Repeat("1,", 15) + `1],[` + strings.Repeat("1,", 70000) + `1]]`,
		`["e",{"_placeholder":true,"num":0}]`, // a literal map in a packet without binary
	} {
		p := Packet{Type: Event, Namespace: "/", Data: json.RawMessage(data)}
		b, err := AppendMsgpack(nil, &p)
		if err != nil {
			t.Fatalf("%.80s: %v", data, err)
		}
		q, err := DecodeMsgpack(b, Limits{})
		if err != nil {
			t.Fatalf("%.80s: decode: %v", data, err)
		}
		if string(q.Data) != data {
			t.Errorf("round trip\n got %.200s\nwant %.200s", q.Data, data)
		}
	}
}

// TestMsgpackNumbers checks JavaScript's view of numbers: an integral
// value is an integer, whatever its JSON spelling.
func TestMsgpackNumbers(t *testing.T) {
	for in, want := range map[string]string{
		`[2.0]`:                  `[2]`,
		`[1e2]`:                  `[100]`,
		`[-0]`:                   `[0]`,
		`[-0.0]`:                 `[0]`,
		`[1e300]`:                `[1e+300]`,
		`[1e999]`:                `[null]`, // Infinity, as JSON.parse reads it; JSON has no Infinity
		`[18446744073709551616]`: `[18446744073709552000]`,
	} {
		b, err := appendJSONAsMsgpack(nil, []byte(in), nil)
		if err != nil {
			t.Fatal(err)
		}
		d := msgpackToJSON{in: b, maxAtts: 10}
		if _, err := d.value(0); err != nil {
			t.Fatal(err)
		}
		if string(d.out) != want {
			t.Errorf("%s: got %s, want %s", in, d.out, want)
		}
	}
	// Integers keep their msgpack integer types; floats stay float64.
	b, _ := appendJSONAsMsgpack(nil, []byte(`[1,0.5,-200,300]`), nil)
	if want := mustHex("94 01 cb3fe0000000000000 d1ff38 cd012c"); !bytes.Equal(b, want) {
		t.Errorf("got % x, want % x", b, want)
	}
}

func TestMsgpackBinary(t *testing.T) {
	p := Packet{Type: BinaryEvent, Namespace: "/chat", ID: 7, HasID: true,
		Data:        json.RawMessage(`["up",{"_placeholder":true,"num":1},{"x":{"_placeholder":true,"num":0}}]`),
		Attachments: [][]byte{{1, 2, 3}, {}}}
	b, err := AppendMsgpack(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex("84 a474797065 02 a464617461 93 a27570 c400 81 a178 c403010203 a36e7370 a52f63686174 a26964 07")
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
	q, err := DecodeMsgpack(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Attachments are renumbered in the order they appear.
	if q.Type != BinaryEvent || q.Namespace != "/chat" || !q.HasID || q.ID != 7 ||
		string(q.Data) != `["up",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]` ||
		!reflect.DeepEqual(q.Attachments, [][]byte{{}, {1, 2, 3}}) {
		t.Fatalf("got %+v", q)
	}
	if _, args, err := ParseEvent(&q); err != nil {
		t.Fatal(err)
	} else if got, ok := args.Bytes(0); !ok || len(got) != 0 {
		t.Fatalf("Bytes(0) = %v, %v", got, ok)
	}
	// The packet shares nothing with the message.
	clear(b)
	if !bytes.Equal(q.Attachments[1], []byte{1, 2, 3}) || q.Data[0] != '[' {
		t.Fatal("the packet aliases the message")
	}
}

// TestMsgpackNotepackValues decodes what notepack.io makes of JavaScript
// values that JSON does not have.
func TestMsgpackNotepackValues(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"undefined in an array", "93 a165 d40000 01", `["e",null,1]`},
		{"undefined in a map", "92 a165 83 a161 d40000 a162 01 a163 d40000", `["e",{"b":1}]`},
		{"undefined first in a map", "92 a165 82 a161 d40000 a162 01", `["e",{"b":1}]`},
		{"Date", "92 a165 d700 0000018c2bdf0a3d", `["e","2023-12-02T18:51:26.653Z"]`},
		{"Date before the epoch", "92 a165 d700 ffffffffffffffff", `["e","1969-12-31T23:59:59.999Z"]`},
		{"Date past year 9999", "92 a165 d700 0000e8d4a5100000", `["e","+010082-04-25T23:06:40.000Z"]`},
		{"Date out of range", "92 a165 d700 7fffffffffffffff", `["e",null]`},
		{"ArrayBuffer", "92 a165 c70300 010203", `["e",{"_placeholder":true,"num":0}]`},
		{"another ext", "92 a165 d505 0102", `["e",[5,{"_placeholder":true,"num":0}]]`},
		{"negative ext type", "92 a165 c701ff 09", `["e",[-1,{"_placeholder":true,"num":0}]]`},
		{"NaN", "92 a165 cb7ff8000000000000", `["e",null]`},
		{"Infinity", "92 a165 cb7ff0000000000000", `["e",null]`},
		{"float32", "92 a165 ca3fc00000", `["e",1.5]`},
		{"float32, exactly", "92 a165 ca3dcccccd", `["e",0.10000000149011612]`},
		{"integer keys", "92 a165 82 01 a161 d0ff a162", `["e",{"1":"a","-1":"b"}]`},
		{"invalid UTF-8", "92 a165 a3 61ff62", "[\"e\",\"a\ufffdb\"]"},
		{"wide headers", "dc0002 d901 65 df00000001 da0001 6b c0", `["e",{"k":null}]`},
		{"uint64", "92 a165 cfffffffffffffffff", `["e",18446744073709551615]`},
		{"int64", "92 a165 d38000000000000000", `["e",-9223372036854775808]`},
		{"int8 as event name", "92 d0ff 01", `[-1,1]`},
	} {
		p, err := DecodeMsgpack(mpEvent(mustHex(tc.data)), Limits{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(p.Data) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, p.Data, tc.want)
		}
		if !json.Valid(p.Data) {
			t.Errorf("%s: %s is not JSON", tc.name, p.Data)
		}
	}
}

func TestMsgpackPacketFields(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      Packet
	}{
		{"CONNECT without data", "82 a474797065 00 a36e7370 a12f", Packet{Type: Connect, Namespace: "/"}},
		// socket.io-client sends data: undefined when it has no auth.
		{"CONNECT with undefined data", "83 a474797065 00 a464617461 d40000 a36e7370 a12f", Packet{Type: Connect, Namespace: "/"}},
		{"undefined id", "84 a474797065 02 a464617461 91a165 a36e7370 a12f a26964 d40000", Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["e"]`)}},
		// socket.io-client adds its emit options to the packet.
		{"unknown keys", "85 a474797065 02 a7 6f7074696f6e73 81 a8636f6d7072657373 c3 a464617461 91a165 a36e7370 a12f 01 c403000000", Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["e"]`)}},
		{"id and namespace", "84 a474797065 03 a464617461 90 a36e7370 a22f61 a26964 ce000f4240", Packet{Type: Ack, Namespace: "/a", ID: 1e6, HasID: true, Data: json.RawMessage(`[]`)}},
		{"CONNECT_ERROR", "83 a474797065 04 a464617461 81 a76d657373616765 a178 a36e7370 a12f", Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"x"}`)}},
		{"DISCONNECT", "82 a474797065 01 a36e7370 a12f", Packet{Type: Disconnect, Namespace: "/"}},
	} {
		p, err := DecodeMsgpack(mustHex(tc.msg), Limits{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		p.ownsData = false
		if p.Data == nil && tc.want.Data == nil {
			p.Data = nil
		}
		if !reflect.DeepEqual(p, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, p, tc.want)
		}
	}
}

// TestMsgpackRefuses checks that bad input is an error, never a panic, a
// hang or a large allocation.
func TestMsgpackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      error
	}{
		{"empty", "", errMsgpack},
		{"not a map", "92 01 02", errMsgpack},
		{"truncated", "83 a474797065 02 a464617461 92 a165", errMsgpack},
		{"trailing bytes", "82 a474797065 01 a36e7370 a12f 00", errMsgpackTrailing},
		{"no type", "81 a36e7370 a12f", errType},
		{"binary type", "82 a474797065 05 a36e7370 a12f", errType},
		{"negative type", "82 a474797065 ff a36e7370 a12f", errType},
		{"no namespace", "81 a474797065 01", errNamespace},
		{"namespace not a string", "82 a474797065 01 a36e7370 01", errNamespace},
		{"namespace without slash", "82 a474797065 01 a36e7370 a161", errNamespace},
		{"negative id", "84 a474797065 03 a464617461 90 a36e7370 a12f a26964 ff", errID},
		{"null id", "84 a474797065 03 a464617461 90 a36e7370 a12f a26964 c0", errID},
		{"event not an array", "83 a474797065 02 a464617461 01 a36e7370 a12f", errPayload},
		{"event without a name", "83 a474797065 02 a464617461 90 a36e7370 a12f", errPayload},
		{"reserved event", "83 a474797065 02 a464617461 91 a7636f6e6e656374 a36e7370 a12f", errReservedEvent},
		{"DISCONNECT with data", "83 a474797065 01 a464617461 90 a36e7370 a12f", errPayload},
		{"CONNECT with null", "83 a474797065 00 a464617461 c0 a36e7370 a12f", errPayload},
		{"binary in CONNECT", "83 a474797065 00 a464617461 81 a161 c40101 a36e7370 a12f", errMsgpackBinary},
		{"array longer than the message", "83 a474797065 02 a464617461 ddffffffff a36e7370 a12f", errMsgpack},
		{"map longer than the message", "dfffffffff", errMsgpack},
		{"string longer than the message", "83 a474797065 02 a464617461 91 dbffffffff", errMsgpack},
		{"bin longer than the message", "83 a474797065 02 a464617461 92 a165 c6ffffffff", errMsgpack},
		{"ext longer than the message", "83 a474797065 02 a464617461 92 a165 c9ffffffff00", errMsgpack},
		{"never-used byte", "83 a474797065 02 a464617461 92 a165 c1 a36e7370 a12f", errMsgpack},
		{"float key", "83 a474797065 02 a464617461 92 a165 81 ca3f800000 01 a36e7370 a12f", errMsgpackKey},
		{"nil key", "83 a474797065 02 a464617461 92 a165 81 c0 01 a36e7370 a12f", errMsgpackKey},
		{"array key", "83 a474797065 02 a464617461 92 a165 81 90 01 a36e7370 a12f", errMsgpackKey},
		{"too many binaries", "83 a474797065 02 a464617461 9c a165" + strings.Repeat("c400", 11) + "a36e7370 a12f", errTooManyAttach},
		{"placeholder beside binary", "83 a474797065 02 a464617461 93 a165 c400 82 ac5f706c616365686f6c646572 c3 a36e756d 00 a36e7370 a12f", errPlaceholder},
		{"too deep", "83 a474797065 02 a464617461 92 a165" + strings.Repeat("91", MaxMsgpackDepth) + "c0 a36e7370 a12f", errMsgpackDepth},
	} {
		p, err := DecodeMsgpack(mustHex(tc.msg), Limits{})
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %+v, %v; want %v", tc.name, p, err, tc.want)
		}
	}
	// Just within the limits.
	if _, err := DecodeMsgpack(mustHex("83 a474797065 02 a464617461 92 a165"+strings.Repeat("91", MaxMsgpackDepth-1)+"c0 a36e7370 a12f"), Limits{}); err != nil {
		t.Errorf("depth %d: %v", MaxMsgpackDepth, err)
	}
	if _, err := DecodeMsgpack(mustHex("83 a474797065 02 a464617461 9c a165"+strings.Repeat("c400", 11)+"a36e7370 a12f"), Limits{MaxAttachments: 11}); err != nil {
		t.Errorf("11 binaries with MaxAttachments 11: %v", err)
	}
}

func TestAppendMsgpackRefusesBadJSON(t *testing.T) {
	p := Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["e",`)}
	if _, err := AppendMsgpack(nil, &p); err == nil {
		t.Fatal("no error for invalid JSON data")
	}
}

// TestMsgpackInvalidUTF8 checks that a string that is not UTF-8 on the
// way out becomes U+FFFD, as the text format makes it.
func TestMsgpackInvalidUTF8(t *testing.T) {
	p := Packet{Type: Event, Namespace: "/\xff", Data: json.RawMessage("[\"a\xffb\"]")}
	b, err := AppendMsgpack(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeMsgpack(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(q.Data) != `["a`+"\ufffd"+`b"]` || q.Namespace != "/\ufffd" {
		t.Fatalf("got %q in %q", q.Data, q.Namespace)
	}
}

// FuzzDecodeMsgpack checks that any message decodes or fails cleanly,
// and that what decodes is a valid packet that encodes back to a message
// decoding to the same packet.
func FuzzDecodeMsgpack(f *testing.F) {
	for _, s := range []string{
		"82 a474797065 00 a36e7370 a12f",
		"83 a474797065 00 a464617461 d40000 a36e7370 a12f",
		"84 a474797065 02 a464617461 93 a27570 c400 81 a178 c403010203 a36e7370 a52f63686174 a26964 07",
		"84 a474797065 03 a464617461 90 a36e7370 a22f61 a26964 ce000f4240",
		"83 a474797065 04 a464617461 81 a76d657373616765 a178 a36e7370 a12f",
		"83 a474797065 02 a464617461 95 a165 d700 0000018c2bdf0a3d c70300 010203 d505 0102 cb7ff8000000000000 a36e7370 a12f",
		"83 a474797065 02 a464617461 92 a165 82 01 a161 d0ff a162 a36e7370 a12f",
	} {
		f.Add(mustHex(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := DecodeMsgpack(msg, Limits{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("data %q is not JSON", p.Data)
		}
		b, err := AppendMsgpack(nil, &p)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", p, err)
		}
		q, err := DecodeMsgpack(b, Limits{})
		if err != nil {
			t.Fatalf("decoding the re-encoding % x of %+v: %v", b, p, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encoding changed the packet:\n %+v\n %+v", p, q)
		}
	})
}

// FuzzMsgpackFromJSON checks JSON -> msgpack -> JSON on any JSON: the
// value stays the same (numbers compared as JavaScript does), and a
// second trip changes nothing.
func FuzzMsgpackFromJSON(f *testing.F) {
	for _, s := range []string{`["e",1,"a",{"b":[null,true,false]}]`, `{"x":1.5e300}`, `"\ud800"`, `[-0.0,1e999,123456789012345678901234567890]`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			if _, err := appendJSONAsMsgpack(nil, data, nil); err == nil {
				t.Fatalf("no error for invalid JSON %q", data)
			}
			return
		}
		once := jsonTrip(t, data)
		if twice := jsonTrip(t, once); !bytes.Equal(once, twice) {
			t.Fatalf("second trip changed %s to %s", once, twice)
		}
		var a, b any
		if json.Unmarshal(data, &a) != nil {
			return // out of float64's range: JSON.parse reads Infinity
		}
		if err := json.Unmarshal(once, &b); err != nil {
			t.Fatalf("%s: %v", once, err)
		}
		if !reflect.DeepEqual(normalizeStrings(a), normalizeStrings(b)) {
			t.Fatalf("%s became %s", data, once)
		}
	})
}

func jsonTrip(t *testing.T, data []byte) []byte {
	b, err := appendJSONAsMsgpack(nil, data, nil)
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	d := msgpackToJSON{in: b, maxAtts: 10}
	undef, err := d.value(0)
	if err != nil || undef || d.pos != len(b) {
		t.Fatalf("decoding % x (from %q): %v", b, data, err)
	}
	return d.out
}

// normalizeStrings maps -0 to 0, which JavaScript sends as the integer 0.
func normalizeStrings(v any) any {
	switch x := v.(type) {
	case float64:
		if x == 0 {
			return 0.0
		}
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeStrings(e)
		}
	}
	return v
}

func BenchmarkAppendMsgpack(b *testing.B) {
	p := Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["chat",{"room":"lobby","text":"hello there","n":12,"f":0.5},{"_placeholder":true,"num":0}]`), Attachments: [][]byte{make([]byte, 64)}}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf, _ = AppendMsgpack(buf[:0], &p)
	}
}

func BenchmarkDecodeMsgpack(b *testing.B) {
	p := Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["chat",{"room":"lobby","text":"hello there","n":12,"f":0.5},{"_placeholder":true,"num":0}]`), Attachments: [][]byte{make([]byte, 64)}}
	msg, _ := AppendMsgpack(nil, &p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMsgpack(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
