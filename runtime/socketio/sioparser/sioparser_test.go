package sioparser

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// oracleCase is a packet, as Go builds it and as the Node oracle script
// builds it (msgpack_oracle.mjs: {"$bin": base64} is a Buffer).
type oracleCase struct {
	packet func() siopacket.Packet
	js     string
}

func event(nsp string, id uint64, hasID bool, name string, args ...any) func() siopacket.Packet {
	return func() siopacket.Packet {
		p, err := siopacket.NewEvent(nsp, name, args)
		if err != nil {
			panic(err)
		}
		p.ID, p.HasID = id, hasID
		return p
	}
}

var oracleCases = []oracleCase{
	{event("/", 0, false, "hello", "world", 1, -1, 1.5, true, nil),
		`{"type":2,"data":["hello","world",1,-1,1.5,true,null],"nsp":"/"}`},
	{event("/chat", 12, true, "ints", 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 9007199254740991),
		`{"type":2,"data":["ints",127,128,255,256,65535,65536,4294967295,4294967296,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,9007199254740991],"nsp":"/chat","id":12}`},
	{event("/", 0, false, "bin", []byte{1, 2, 3}, map[string]any{"nested": []byte{}}, []any{[]byte{255}}),
		`{"type":2,"data":["bin",{"$bin":"AQID"},{"nested":{"$bin":""}},[{"$bin":"/w=="}]],"nsp":"/"}`},
	{event("/", 0, false, "sizes", strings.Repeat("s", 31), strings.Repeat("t", 32), strings.Repeat("u", 256), strings.Repeat("é", 40000), make([]byte, 300), make([]byte, 70000), make([]int, 16)),
		`{"type":2,"data":["sizes","` + strings.Repeat("s", 31) + `","` + strings.Repeat("t", 32) + `","` + strings.Repeat("u", 256) + `","` + strings.Repeat("é", 40000) + `",{"$bin":"` + base64.StdEncoding.EncodeToString(make([]byte, 300)) + `"},{"$bin":"` + base64.StdEncoding.EncodeToString(make([]byte, 70000)) + `"},[` + strings.Repeat("0,", 15) + `0]],"nsp":"/"}`},
	{event("/", 0, false, "unicode", "漢字😀", "\"\\\n", map[string]any{"k1": 1}),
		`{"type":2,"data":["unicode","漢字😀","\"\\\n",{"k1":1}],"nsp":"/"}`},
	{func() siopacket.Packet {
		p, _ := siopacket.NewAck("/", 3, []any{"ok", []byte("x")})
		return p
	}, `{"type":3,"data":["ok",{"$bin":"eA=="}],"nsp":"/","id":3}`},
	{func() siopacket.Packet {
		return siopacket.Packet{Type: siopacket.Connect, Namespace: "/admin", Data: json.RawMessage(`{"sid":"abc","pid":"def"}`)}
	}, `{"type":0,"data":{"sid":"abc","pid":"def"},"nsp":"/admin"}`},
	{func() siopacket.Packet {
		return siopacket.Packet{Type: siopacket.ConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"not authorized","data":{"reason":"bad"}}`)}
	}, `{"type":4,"data":{"message":"not authorized","data":{"reason":"bad"}},"nsp":"/"}`},
	{func() siopacket.Packet { return siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/x"} },
		`{"type":1,"nsp":"/x"}`},
}

// TestMessagePackMatchesReference checks that MessagePack encodes packets
// to the bytes socket.io-msgpack-parser makes of the same packets, and
// decodes those bytes back to the packets.
func TestMessagePackMatchesReference(t *testing.T) {
	js := make([]string, len(oracleCases))
	for i, c := range oracleCases {
		js[i] = c.js
	}
	out := oracle(t, "["+strings.Join(js, ",")+"]")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(oracleCases) {
		t.Fatalf("the oracle printed %d lines for %d cases", len(lines), len(oracleCases))
	}
	for i, c := range oracleCases {
		p := c.packet()
		msgs, err := MessagePack{}.Encode(&p)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(msgs) != 1 || !msgs[0].Binary {
			t.Fatalf("case %d: %d messages, want one binary message", i, len(msgs))
		}
		if got := hex.EncodeToString(msgs[0].Data); got != lines[i] {
			at := 0
			for at < min(len(got), len(lines[i])) && got[at] == lines[i][at] {
				at++
			}
			at &^= 1
			t.Errorf("case %d (%.60s): bytes differ from offset %d (of %d, want %d): got %.40s, want %.40s",
				i, c.js, at/2, len(got)/2, len(lines[i])/2, got[at:], lines[i][at:])
		}
		ref, err := hex.DecodeString(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		q, ok, err := MessagePack{}.NewDecoder(siopacket.Limits{}).Decode(ref, true)
		if err != nil || !ok {
			t.Fatalf("case %d: decoding the reference's bytes: %v", i, err)
		}
		if !samePacket(p, q) {
			t.Errorf("case %d: decoded %.300s (%d attachments), want %.300s (%d)", i, q.Data, len(q.Attachments), p.Data, len(p.Attachments))
		}
	}
}

// TestMessagePackDecodesReferenceExtras decodes what JavaScript values
// that JSON lacks become through the reference encoder.
func TestMessagePackDecodesReferenceExtras(t *testing.T) {
	js := `[{"type":2,"data":["x",{"$undefined":true},{"a":{"$undefined":true},"b":1},{"$date":1701541886653},{"$uint8":"AQI="},{"$nan":true}],"nsp":"/"},` +
		`{"type":0,"data":{"$undefined":true},"nsp":"/"},` +
		`{"type":2,"data":["y"],"nsp":"/","id":{"$undefined":true},"options":{"compress":true}}]`
	out := oracle(t, js)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []siopacket.Packet{
		{Type: siopacket.BinaryEvent, Namespace: "/", Data: json.RawMessage(`["x",null,{"b":1},"2023-12-02T18:31:26.653Z",{"_placeholder":true,"num":0},null]`), Attachments: [][]byte{{1, 2}}},
		{Type: siopacket.Connect, Namespace: "/"},
		{Type: siopacket.Event, Namespace: "/", Data: json.RawMessage(`["y"]`)},
	}
	if len(lines) != len(want) {
		t.Fatalf("the oracle printed %d lines", len(lines))
	}
	for i, w := range want {
		ref, _ := hex.DecodeString(lines[i])
		q, ok, err := MessagePack{}.NewDecoder(siopacket.Limits{}).Decode(ref, true)
		if err != nil || !ok {
			t.Fatalf("case %d: %v", i, err)
		}
		if !samePacket(w, q) {
			t.Errorf("case %d: got %+v, want %+v", i, q, w)
		}
	}
}

// oracle runs msgpack_oracle.mjs on cases and returns its output.
func oracle(t *testing.T, cases string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, []byte(cases), 0o644); err != nil {
		t.Fatal(err)
	}
	return string(nodepeer.Output(t, 30*time.Second, "msgpack_oracle.mjs", file))
}

func samePacket(a, b siopacket.Packet) bool {
	if len(a.Attachments) == 0 && len(b.Attachments) == 0 {
		a.Attachments, b.Attachments = nil, nil
	}
	return a.Type == b.Type && a.Namespace == b.Namespace && a.ID == b.ID && a.HasID == b.HasID &&
		string(a.Data) == string(b.Data) && reflect.DeepEqual(a.Attachments, b.Attachments)
}

func TestMessagePackRefusesText(t *testing.T) {
	if _, _, err := (MessagePack{}).NewDecoder(siopacket.Limits{}).Decode([]byte(`2["x"]`), false); err == nil {
		t.Fatal("a text message decoded")
	}
}

func TestDefaultDecoder(t *testing.T) {
	p, _ := siopacket.NewEvent("/a", "e", []any{[]byte{1}, []byte{2}})
	msgs, err := Default{}.Encode(&p)
	if err != nil || len(msgs) != 3 || msgs[0].Binary || !msgs[1].Binary {
		t.Fatalf("Encode: %v, %+v", err, msgs)
	}
	dec := Default{}.NewDecoder(siopacket.Limits{})
	for i, m := range msgs {
		q, ok, err := dec.Decode(m.Data, m.Binary)
		if err != nil || ok != (i == len(msgs)-1) {
			t.Fatalf("message %d: %v, %v", i, ok, err)
		}
		if ok && !samePacket(p, q) {
			t.Fatalf("got %+v, want %+v", q, p)
		}
	}
	// A text message while attachments are awaited breaks the protocol.
	if _, _, err := dec.Decode(msgs[0].Data, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dec.Decode(msgs[0].Data, false); err == nil {
		t.Fatal("no error for a text message in place of an attachment")
	}
}
