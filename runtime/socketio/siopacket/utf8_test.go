package siopacket

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// rawMarshaler returns its bytes as its JSON, unchecked, as a careless
// json.Marshaler might.
type rawMarshaler []byte

func (m rawMarshaler) MarshalJSON() ([]byte, error) { return m, nil }

// utf8Holder carries s in every place a struct can put a string.
type utf8Holder struct {
	Field  string            `json:"field"`
	Map    map[string]string `json:"map"`
	Raw    json.RawMessage   `json:"raw"`
	Binary []byte            `json:"binary"`
}

// everyFrame builds each kind of text frame a server or client writes,
// with s (arbitrary bytes) in every value a handler can pass. An encoder
// may refuse a value (raw JSON that s breaks): that frame is left out.
func everyFrame(s string) map[string][]byte {
	quoted := json.RawMessage(`"` + s + `"`) // a relayed argument, as Args.Raw gives it
	args := []any{s, map[string]any{s: s}, []string{s}, quoted, rawMarshaler(quoted),
		utf8Holder{Field: s, Map: map[string]string{s: s}, Raw: quoted, Binary: []byte(s)},
		&utf8Holder{Field: s, Raw: quoted}}
	frames := map[string][]byte{}
	if ev, err := NewEvent("/"+s, s, args); err == nil {
		frames["event"] = AppendText(nil, &ev)
		AppendStringArg(&ev, s)
		frames["event with offset"] = AppendText(nil, &ev)
	}
	if ack, err := NewAck("/"+s, 7, args); err == nil {
		frames["ack"] = AppendText(nil, &ack)
	}
	if text, _, err := EncodeAck("/"+s, 7, args); err == nil {
		frames["encoded ack"] = text
	}
	// Without the marshaler, which refuses what is not JSON.
	if ev, err := NewEvent("/"+s, s, []any{quoted, utf8Holder{Raw: quoted}}); err == nil {
		frames["relayed raw event"] = AppendText(nil, &ev)
	}
	msg, _ := json.Marshal(struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}{s, quoted})
	frames["connect error"] = AppendText(nil, &Packet{Type: ConnectError, Namespace: "/" + s, Data: msg})
	frames["disconnect"] = AppendText(nil, &Packet{Type: Disconnect, Namespace: "/" + s})
	frames["raw packet"] = AppendText(nil, &Packet{Type: Event, Namespace: "/" + s, Data: json.RawMessage(`["` + s + `"]`)})
	return frames
}

func TestAppendTextNeverWritesInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "caf\xc3", "\xed\xa0\x80", "\xc0\xaf", "a\xf4\x90\x80\x80b", "ok"} {
		frames := everyFrame(s)
		if len(frames) != 8 {
			t.Errorf("%q: %d frames built, want 8", s, len(frames))
		}
		for kind, frame := range frames {
			if !utf8.Valid(frame) {
				t.Errorf("%s frame for %q is not valid UTF-8: %q", kind, s, frame)
			}
		}
	}
}

func TestAppendTextReplacesLikeEncodingJSON(t *testing.T) {
	// Each invalid byte becomes one U+FFFD, as json.Marshal does in strings
	// (it writes \ufffd; the decoded string is the same), and the payload
	// stays the JSON it was.
	s := "a\xffb\xc3\xa9\xed\xa0\x80"
	marshaled, _ := json.Marshal([]string{s})
	var want []string
	_ = json.Unmarshal(marshaled, &want)
	p := Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["` + s + `"]`)}
	got := AppendText(nil, &p)
	dec, _, err := DecodeText(got, Limits{})
	var decoded []string
	if err != nil || json.Unmarshal(dec.Data, &decoded) != nil || len(decoded) != 1 || decoded[0] != want[0] {
		t.Errorf("AppendText = %q (%v), want the string %q", got, err, want)
	}
	valid := []byte(`2["héllo"]`)
	if got := AppendText(nil, &Packet{Type: Event, Data: valid[1:]}); string(got) != string(valid) {
		t.Errorf("valid frame changed: %q", got)
	}
}

// FuzzEncodeValidUTF8 puts arbitrary bytes in every value a handler can
// emit (event and namespace names, strings, map keys, raw JSON, marshaler
// output, connect error messages) and checks that every frame is valid
// UTF-8.
func FuzzEncodeValidUTF8(f *testing.F) {
	for _, seed := range []string{"", "ok", "\xff", "caf\xc3", "\xed\xa0\x80", "\xc0\xaf", "\x00\"\\", "你好\xe4\xbd"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for kind, frame := range everyFrame(s) {
			if !utf8.Valid(frame) {
				t.Fatalf("%s frame for %q is not valid UTF-8: %q", kind, s, frame)
			}
		}
	})
}

func BenchmarkAppendTextEvent(b *testing.B) {
	p, _ := NewEvent("/", "chat message", []any{map[string]string{"text": "héllo wörld", "room": "lobby"}})
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], &p)
	}
}
