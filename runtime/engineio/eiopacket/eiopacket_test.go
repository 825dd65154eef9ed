package eiopacket

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		wantErr error
	}{
		{in: "4hello", want: Packet{Type: Message, Data: []byte("hello")}},
		{in: "2", want: Packet{Type: Ping, Data: []byte{}}},
		{in: "2probe", want: Packet{Type: Ping, Data: []byte("probe")}},
		{in: "6", want: Packet{Type: Noop, Data: []byte{}}},
		{in: `0{"sid":"x"}`, want: Packet{Type: Open, Data: []byte(`{"sid":"x"}`)}},
		{in: "", wantErr: ErrEmpty},
		{in: "abc", wantErr: ErrUnknownType},
		{in: "7", wantErr: ErrUnknownType},
		{in: "/", wantErr: ErrUnknownType},
		{in: "4h\xe9llo", wantErr: ErrInvalidUTF8}, // Latin-1, not UTF-8
		{in: "4héllo 你好", want: Packet{Type: Message, Data: []byte("héllo 你好")}},
	}
	for _, tt := range tests {
		got, err := DecodeText([]byte(tt.in))
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("DecodeText(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (got.Type != tt.want.Type || !bytes.Equal(got.Data, tt.want.Data) || got.Binary) {
			t.Errorf("DecodeText(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		wire    string
		packets []Packet
	}{
		{"4hello", []Packet{{Type: Message, Data: []byte("hello")}}},
		{"4test1\x1e4test2\x1e4test3", []Packet{
			{Type: Message, Data: []byte("test1")},
			{Type: Message, Data: []byte("test2")},
			{Type: Message, Data: []byte("test3")},
		}},
		{"4hello\x1ebAQIDBA==", []Packet{
			{Type: Message, Data: []byte("hello")},
			{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true},
		}},
		{"b", []Packet{{Type: Message, Data: []byte{}, Binary: true}}},
		{"2\x1e6\x1e1", []Packet{{Type: Ping, Data: []byte{}}, {Type: Noop, Data: []byte{}}, {Type: Close, Data: []byte{}}}},
		{"4€ unicode ✓", []Packet{{Type: Message, Data: []byte("€ unicode ✓")}}},
	}
	for _, tt := range tests {
		var got []Packet
		if err := DecodePayload([]byte(tt.wire), func(p Packet) error {
			got = append(got, p)
			return nil
		}); err != nil {
			t.Fatalf("DecodePayload(%q): %v", tt.wire, err)
		}
		if len(got) != len(tt.packets) {
			t.Fatalf("DecodePayload(%q) gave %d packets, want %d", tt.wire, len(got), len(tt.packets))
		}
		for i := range got {
			w := tt.packets[i]
			if got[i].Type != w.Type || got[i].Binary != w.Binary || !bytes.Equal(got[i].Data, w.Data) {
				t.Errorf("DecodePayload(%q)[%d] = %+v, want %+v", tt.wire, i, got[i], w)
			}
		}
		if enc := AppendPayload(nil, tt.packets); string(enc) != tt.wire {
			t.Errorf("AppendPayload = %q, want %q", enc, tt.wire)
		}
		n := len(tt.packets) - 1
		for _, p := range tt.packets {
			n += RecordLen(p)
		}
		if n != len(tt.wire) {
			t.Errorf("RecordLen sum for %q = %d, want %d", tt.wire, n, len(tt.wire))
		}
	}
}

func TestDecodePayloadErrors(t *testing.T) {
	tests := []struct {
		wire string
		want error
	}{
		{"", ErrEmpty},
		{"4a\x1e", ErrEmpty},
		{"\x1e4a", ErrEmpty},
		{"4a\x1e\x1e4b", ErrEmpty},
		{"abc", ErrUnknownType},
		{"b!!!", ErrBadBase64},
		{"bAQI", ErrBadBase64},
		{"4\xff", ErrInvalidUTF8},
		{"4ok\x1e4caf\xc3", ErrInvalidUTF8},                // truncated sequence
		{"4\xed\xa0\x80", ErrInvalidUTF8},                  // a UTF-16 surrogate
		{"4\xc0\xaf", ErrInvalidUTF8},                      // overlong "/"
		{"42[\"a\",\"\xf4\x90\x80\x80\"]", ErrInvalidUTF8}, // above U+10FFFF
	}
	for _, tt := range tests {
		err := DecodePayload([]byte(tt.wire), func(Packet) error { return nil })
		if !errors.Is(err, tt.want) {
			t.Errorf("DecodePayload(%q) = %v, want %v", tt.wire, err, tt.want)
		}
	}
	// A payload with invalid UTF-8 anywhere delivers nothing.
	calls := 0
	if err := DecodePayload([]byte("4ok\x1e4bad\xff"), func(Packet) error { calls++; return nil }); !errors.Is(err, ErrInvalidUTF8) || calls != 0 {
		t.Errorf("invalid UTF-8 in the 2nd record: %v after %d packets, want ErrInvalidUTF8 before any", err, calls)
	}
	if _, err := DecodeRecord([]byte("4\xff")); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("DecodeRecord: %v, want ErrInvalidUTF8", err)
	}
	stop := errors.New("stop")
	calls = 0
	err := DecodePayload([]byte("4a\x1e4b"), func(Packet) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("callback error: got %v after %d calls, want stop after 1", err, calls)
	}
}

func TestTypeString(t *testing.T) {
	names := map[Type]string{Open: "open", Close: "close", Ping: "ping", Pong: "pong", Message: "message", Upgrade: "upgrade", Noop: "noop"}
	for typ, name := range names {
		if typ.String() != name || !typ.Valid() {
			t.Errorf("%q: String()=%q Valid()=%v", byte(typ), typ.String(), typ.Valid())
		}
	}
	if Type('9').Valid() || Type('9').String() != `Type('9')` {
		t.Errorf("Type('9') = %q valid=%v", Type('9').String(), Type('9').Valid())
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{"4hello", "4test1\x1e4test2", "4hello\x1ebAQIDBA==", "2probe", "b", "", "\x1e", "abc"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		var packets []Packet
		err := DecodePayload(wire, func(p Packet) error {
			packets = append(packets, Packet{Type: p.Type, Data: bytes.Clone(p.Data), Binary: p.Binary})
			return nil
		})
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		again := AppendPayload(nil, packets)
		i := 0
		if err := DecodePayload(again, func(p Packet) error {
			if p.Type != packets[i].Type || p.Binary != packets[i].Binary || !bytes.Equal(p.Data, packets[i].Data) {
				t.Fatalf("round trip of %q: packet %d = %+v, want %+v", wire, i, p, packets[i])
			}
			i++
			return nil
		}); err != nil {
			t.Fatalf("re-encoded payload %q does not decode: %v", again, err)
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, seed := range []string{"4hello", "2", "0{}", "", "x"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := DecodeText(frame)
		if err != nil {
			return
		}
		if got := AppendText(nil, p); !bytes.Equal(got, frame) {
			t.Fatalf("AppendText(DecodeText(%q)) = %q", frame, got)
		}
	})
}

func BenchmarkDecodeText(b *testing.B) {
	frame := []byte(`42["chat message",{"text":"hello world","room":"lobby"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeText(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTextLarge is DecodeText on a 4 KiB message of mostly
// non-ASCII text, where the UTF-8 check has the most to read.
func BenchmarkDecodeTextLarge(b *testing.B) {
	frame := append([]byte(`42["chat message","`), bytes.Repeat([]byte("héllo wörld, 你好 "), 4096/22)...)
	frame = append(frame, `"]`...)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeText(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	p := Packet{Type: Message, Data: []byte(`2["chat message",{"text":"hello world","room":"lobby"}]`)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data) + 1))
	for b.Loop() {
		buf = AppendText(buf[:0], p)
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	packets := []Packet{
		{Type: Message, Data: []byte(`2["a",1]`)},
		{Type: Message, Data: bytes.Repeat([]byte{7}, 1024), Binary: true},
		{Type: Ping},
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPayload(buf[:0], packets)
	}
}

func BenchmarkDecodePayload(b *testing.B) {
	wire := []byte("4test1\x1e4test2\x1e4test3\x1e2\x1e42[\"event\",{\"a\":1}]")
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if err := DecodePayload(wire, func(Packet) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
