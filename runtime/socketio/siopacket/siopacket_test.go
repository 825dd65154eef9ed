package siopacket

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   string
		want Packet
		atts int
	}{
		{"0", Packet{Type: Connect, Namespace: "/"}, 0},
		{`0{"token":"123"}`, Packet{Type: Connect, Namespace: "/", Data: json.RawMessage(`{"token":"123"}`)}, 0},
		{"0/admin,", Packet{Type: Connect, Namespace: "/admin"}, 0},
		{"0/random", Packet{Type: Connect, Namespace: "/random"}, 0},
		{`0/admin,{"a":1}`, Packet{Type: Connect, Namespace: "/admin", Data: json.RawMessage(`{"a":1}`)}, 0},
		{"1", Packet{Type: Disconnect, Namespace: "/"}, 0},
		{"1/admin,", Packet{Type: Disconnect, Namespace: "/admin"}, 0},
		{`2["hello",1]`, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["hello",1]`)}, 0},
		{`2/admin,456["project:delete",123]`, Packet{Type: Event, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`["project:delete",123]`)}, 0},
		{`2[1,2]`, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`[1,2]`)}, 0},
		{`3/admin,456[]`, Packet{Type: Ack, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`[]`)}, 0},
		{`4{"message":"Not authorized"}`, Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"Not authorized"}`)}, 0},
		{`4"legacy"`, Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`"legacy"`)}, 0},
		{`51-["hello",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["hello",{"_placeholder":true,"num":0}]`)}, 1},
		{`61-/admin,456[{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`)}, 1},
	}
	for _, tt := range tests {
		got, n, err := DecodeText([]byte(tt.in), Limits{})
		if err != nil {
			t.Errorf("DecodeText(%q): %v", tt.in, err)
			continue
		}
		if n != tt.atts || len(got.Attachments) != tt.atts {
			t.Errorf("DecodeText(%q): %d attachments (slice %d), want %d", tt.in, n, len(got.Attachments), tt.atts)
		}
		got.Attachments = nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeText(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		// Encoding gives back the same text (attachment count from the slice).
		got.Attachments = make([][]byte, tt.atts)
		if enc := AppendText(nil, &got); string(enc) != normalise(tt.in) {
			t.Errorf("AppendText(DecodeText(%q)) = %q", tt.in, enc)
		}
	}
}

// normalise gives the canonical form: a namespace is always followed by a
// comma when encoded.
func normalise(s string) string {
	if s == "0/random" {
		return "0/random,"
	}
	return s
}

func TestDecodeTextErrors(t *testing.T) {
	for _, in := range []string{
		"", "7", "9", "a", "abc", "/",
		`2{}`, `2"x"`, `2[]`, `2[{}]`, `2[null]`, `2["connect"]`, `2["disconnecting"]`, `2["newListener",1]`,
		`2[`, `2["a",]`, `3{}`, `3"x"`, `0[]`, `0"x"`, `1{}`, `1"x"`, `4[]`, `41`,
		`2abc["message",1]`, `21234567890123456["a"]`,
		`5["a"]`, `5-["a"]`, `5x-["a"]`, `511-["a"]`, `599999-["a"]`, `52-2["a"]`,
		"0/a\x01b,",
	} {
		if p, _, err := DecodeText([]byte(in), Limits{}); err == nil {
			t.Errorf("DecodeText(%q) = %+v, want an error", in, p)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeText(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
	if _, _, err := DecodeText([]byte(`53-["a"]`), Limits{MaxAttachments: 2}); err == nil {
		t.Error("attachment limit not applied")
	}
}

func TestReassembler(t *testing.T) {
	p, n, err := DecodeText([]byte(`52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Limits{})
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	var r Reassembler
	if _, _, err := r.Add([]byte{1}); err == nil {
		t.Error("attachment with nothing pending was accepted")
	}
	r.Start(p)
	buf := []byte{1, 2, 3}
	if _, done, _ := r.Add(buf); done || !r.Waiting() {
		t.Fatal("done after one of two attachments")
	}
	buf[0] = 9 // the reassembler must have copied
	got, done, err := r.Add([]byte{4, 5, 6})
	if !done || err != nil || r.Waiting() {
		t.Fatalf("done=%v err=%v", done, err)
	}
	if !bytes.Equal(got.Attachments[0], []byte{1, 2, 3}) || !bytes.Equal(got.Attachments[1], []byte{4, 5, 6}) {
		t.Errorf("attachments %v", got.Attachments)
	}
}

// Arguments share a packet's data only when nothing will reuse it: a
// reassembled packet's data is the reassembler's own copy, a decoded text
// packet's is the caller's frame buffer.
func TestParseEventCopiesOnlyBorrowedData(t *testing.T) {
	frame := []byte(`51-["m",{"_placeholder":true,"num":0},"x"]`)
	p, _, err := DecodeText(frame, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var r Reassembler
	r.Start(p)
	whole, done, err := r.Add([]byte{1})
	if !done || err != nil {
		t.Fatal(done, err)
	}
	text, _, err := DecodeText([]byte(`2["m","x"]`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		p     Packet
		share bool
	}{{"reassembled", whole, true}, {"decoded text", text, false}} {
		_, args, err := ParseEvent(&tc.p)
		if err != nil {
			t.Fatal(err)
		}
		last := args.Raw(args.Len() - 1)
		shares := &last[0] == &tc.p.Data[len(tc.p.Data)-1-len(last)]
		if shares != tc.share {
			t.Errorf("%s: arguments share the packet's data: %v, want %v", tc.name, shares, tc.share)
		}
		if string(last) != `"x"` {
			t.Errorf("%s: last argument %s", tc.name, last)
		}
	}
}

func TestParseEventLikeReusesTheKnownName(t *testing.T) {
	for _, tc := range []struct {
		data, known, want string
		reused            bool
	}{
		{`["chat",1]`, "chat", "chat", true},
		{`["chat",1]`, "chit", "chat", false},
		{`["chat",1]`, "", "chat", false},
		// The same bytes, but escapes mean another name.
		{`["a\\nb",1]`, `a\\nb`, "a\\nb", false},
		{`["a\u0062",1]`, "ab", "ab", false},
		{`[7,1]`, "7", "7", false},
	} {
		p := Packet{Type: Event, Data: []byte(tc.data)}
		name, args, err := ParseEventLike(&p, tc.known)
		if err != nil || name != tc.want || args.Len() != 1 {
			t.Errorf("ParseEventLike(%s, %q) = %q, %d args, %v; want %q", tc.data, tc.known, name, args.Len(), err, tc.want)
			continue
		}
		if reused := len(name) > 0 && unsafe.StringData(name) == unsafe.StringData(tc.known); reused != tc.reused {
			t.Errorf("ParseEventLike(%s, %q) reused the known name: %v, want %v", tc.data, tc.known, reused, tc.reused)
		}
	}
}

type inner struct {
	Blob []byte `json:"blob"`
	Note string `json:"note,omitempty"`
}

type Embedded struct {
	Shared string `json:"shared"`
}

type outer struct {
	Embedded
	Name    string            `json:"name"`
	Inner   inner             `json:"inner"`
	Ptr     *inner            `json:"ptr"`
	List    [][]byte          `json:"list"`
	Map     map[string][]byte `json:"map"`
	Any     any               `json:"any"`
	Skip    []byte            `json:"-"`
	private []byte
}

func TestAppendEventDataDeconstructsBinary(t *testing.T) {
	v := outer{
		Embedded: Embedded{Shared: "s"},
		Name:     "x<y",
		Inner:    inner{Blob: []byte{1}},
		List:     [][]byte{{2}, {3}},
		Map:      map[string][]byte{"b": {5}, "a": {4}},
		Any:      []any{[]byte{6}, "plain", 7},
		Skip:     []byte{99},
		private:  []byte{99},
	}
	data, atts, err := AppendEventData(nil, nil, "ev€", []any{v, []byte{7}, nil, json.RawMessage(`{"raw":true}`), 1.5, "str"})
	if err != nil {
		t.Fatal(err)
	}
	want := `["ev€",{"shared":"s","name":"x\u003cy","inner":{"blob":{"_placeholder":true,"num":0}},"ptr":null,` +
		`"list":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}],` +
		`"map":{"a":{"_placeholder":true,"num":3},"b":{"_placeholder":true,"num":4}},` +
		`"any":[{"_placeholder":true,"num":5},"plain",7]},{"_placeholder":true,"num":6},null,{"raw":true},1.5,"str"]`
	if string(data) != want {
		t.Errorf("data\n got %s\nwant %s", data, want)
	}
	if !reflect.DeepEqual(atts, [][]byte{{1}, {2}, {3}, {4}, {5}, {6}, {7}}) {
		t.Errorf("attachments %v", atts)
	}
	// Without binary, the output is exactly encoding/json's.
	plain := map[string]any{"a": []int{1, 2}, "b": "c&d", "e": struct {
		F int `json:"f,omitempty"`
	}{}}
	data, atts, _ = AppendAckData(nil, nil, []any{plain})
	std, _ := json.Marshal([]any{plain})
	if string(data) != string(std) || len(atts) != 0 {
		t.Errorf("plain ack data %s, encoding/json %s", data, std)
	}
}

func TestResolve(t *testing.T) {
	atts := [][]byte{{1, 2, 3}, {4}}
	data := []byte(`{"blob":{"_placeholder":true,"num":0},"list":[{"_placeholder":true,"num":1}],"n":12345678901234567890}`)
	var v struct {
		Blob []byte      `json:"blob"`
		List [][]byte    `json:"list"`
		N    json.Number `json:"n"`
	}
	b64, err := ResolveBase64(data, atts)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b64, &v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Blob, atts[0]) || !bytes.Equal(v.List[0], atts[1]) || v.N != "12345678901234567890" {
		t.Errorf("resolved %+v", v)
	}
	generic, err := Resolve(data, atts)
	if err != nil {
		t.Fatal(err)
	}
	if b := generic.(map[string]any)["blob"]; !bytes.Equal(b.([]byte), atts[0]) {
		t.Errorf("generic blob %v", b)
	}
	for _, bad := range []string{`{"_placeholder":true,"num":2}`, `{"_placeholder":true,"num":-1}`, `{"_placeholder":true,"num":"0"}`, `[`} {
		if _, err := Resolve([]byte(bad), atts); err == nil {
			t.Errorf("Resolve(%s) succeeded", bad)
		}
	}
	if n, ok := PlaceholderNum([]byte(` {"_placeholder":true,"num":1}`)); !ok || n != 1 {
		t.Errorf("PlaceholderNum = %d %v", n, ok)
	}
	for _, not := range []string{`{"num":1}`, `"x"`, `{"_placeholder":false,"num":1}`, `{"_placeholder":true,"num":1.5}`} {
		if _, ok := PlaceholderNum([]byte(not)); ok {
			t.Errorf("PlaceholderNum(%s) matched", not)
		}
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"0", `0/admin,{"a":1}`, `2/admin,456["a",1]`, `3456[]`, `4{"message":"x"}`,
		`51-["a",{"_placeholder":true,"num":0}]`, `61-/x,1[{"_placeholder":true,"num":0}]`, "1/a,", `2["connect"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, n, err := DecodeText(text, Limits{})
		if err != nil {
			return
		}
		if n != len(p.Attachments) {
			t.Fatalf("announced %d attachments, slice has %d", n, len(p.Attachments))
		}
		// What decodes re-encodes to something that decodes the same,
		// except that bytes that are not UTF-8 (which the Engine.IO layer
		// refuses before this decoder) come back as U+FFFD: the encoder
		// never writes invalid UTF-8.
		again := AppendText(nil, &p)
		if !utf8.Valid(again) {
			t.Fatalf("re-encoded %q -> %q is not valid UTF-8", text, again)
		}
		if !utf8.Valid(text) {
			return
		}
		q, _, err := DecodeText(again, Limits{})
		if err != nil {
			t.Fatalf("re-encoded %q -> %q does not decode: %v", text, again, err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("round trip of %q: %+v vs %+v", text, p, q)
		}
		if HasPlaceholder(p.Data) {
			_, _ = Resolve(p.Data, p.Attachments) // must not panic
		}
	})
}

func BenchmarkDecodeText(b *testing.B) {
	text := []byte(`212["message",{"text":"hello world","room":"lobby","n":42}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, _, err := DecodeText(text, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	p := &Packet{Type: Event, Namespace: "/chat", ID: 12, HasID: true, Data: json.RawMessage(`["message",{"text":"hello world"}]`)}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], p)
	}
}

func BenchmarkAppendEventDataText(b *testing.B) {
	args := []any{"hello world", 42, true}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = AppendEventData(buf[:0], nil, "message", args)
	}
}

func BenchmarkAppendEventDataBinary(b *testing.B) {
	args := []any{make([]byte, 1024)}
	buf := make([]byte, 0, 128)
	atts := make([][]byte, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		buf, atts, _ = AppendEventData(buf[:0], atts[:0], "rpc", args)
	}
}

func TestAppendStringArg(t *testing.T) {
	for in, want := range map[string]string{`["a",1]`: `["a",1,"x\"y"]`, `[]`: `["x\"y"]`, `["a"] `: `["a","x\"y"]`} {
		p := Packet{Type: Event, Data: json.RawMessage(in)}
		AppendStringArg(&p, `x"y`)
		if string(p.Data) != want {
			t.Errorf("AppendStringArg(%s) = %s, want %s", in, p.Data, want)
		}
	}
}

// TestEncodeAckMatchesNewAck: the one-allocation ACK encoder writes what
// NewAck followed by AppendText writes, for plain and binary acks, in any
// namespace, with ids up to the largest.
func TestEncodeAckMatchesNewAck(t *testing.T) {
	for _, tc := range []struct {
		nsp  string
		id   uint64
		args []any
	}{
		{"/", 0, nil},
		{"/", 7, []any{"ok", 1, nil}},
		{"/admin", 1<<64 - 1, []any{map[string]any{"a": []int{1, 2}}}},
		{"/chat", 42, []any{[]byte{1, 2, 3}, "x", []byte{}}},
		{"/a-very-long-namespace-name/with/slashes", 1234567890, []any{strings.Repeat("y", 2000)}},
	} {
		p, err := NewAck(tc.nsp, tc.id, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		want := AppendText(nil, &p)
		text, atts, err := EncodeAck(tc.nsp, tc.id, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if string(text) != string(want) || len(atts) != len(p.Attachments) {
			t.Errorf("EncodeAck(%q, %d) = %q with %d attachments, want %q with %d", tc.nsp, tc.id, text, len(atts), want, len(p.Attachments))
		}
		if cap(text) > len(text)+64 {
			t.Errorf("text of %d bytes has capacity %d", len(text), cap(text))
		}
	}
	if _, _, err := EncodeAck("/", 1, []any{func() {}}); err == nil {
		t.Error("an unencodable argument was accepted")
	}
}

// TestJSONNumberIsANumber: a json.Number travels as a number, as
// encoding/json writes it, at the top level and inside values that carry
// binary; one that is no number literal is refused.
func TestJSONNumberIsANumber(t *testing.T) {
	type withBinary struct {
		N json.Number `json:"n"`
		B []byte      `json:"b"`
	}
	got, _, err := AppendEventData(nil, nil, "e", []any{json.Number("12345678901234567890"), withBinary{N: "1.5", B: []byte{1}}, []any{json.Number("-2")}})
	if err != nil {
		t.Fatal(err)
	}
	want := `["e",12345678901234567890,{"n":1.5,"b":{"_placeholder":true,"num":0}},[-2]]`
	if string(got) != want {
		t.Fatalf("encoded %s, want %s", got, want)
	}
	if _, _, err := AppendEventData(nil, nil, "e", []any{json.Number("12abc")}); err == nil {
		t.Fatal("a json.Number that is no number was encoded")
	}
}
