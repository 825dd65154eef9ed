package adapterwire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestCheckMsgpackRefusesWhatItCannotHold: lengths and counts past the
// end, and the unused type byte, are refused at once, before a decoder
// would allocate for them; what an encoder writes passes.
func TestCheckMsgpackRefusesWhatItCannotHold(t *testing.T) {
	good, err := msgpack.Marshal(map[string]any{"uid": "u", "data": []any{1, "two", []byte{3}, map[string]any{"x": nil}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckMsgpack(good, MaxMsgpackDepth); err != nil {
		t.Fatalf("an encoded message: %v", err)
	}
	for name, b := range map[string][]byte{
		// A fuzzer found this one: a map whose first key is a bin32 of
		// 1.5 GB, in 13 bytes; the decoder allocated it all.
		"bin32 past the end":   {0x8f, 0xc6, 0x5e, 0x92, 0xac, 0x4a, 0xed, 0x99, 0x81, 0x96, 0xce, 0xd0, 0x13},
		"str32 past the end":   {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},
		"array32 past the end": {0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0},
		"map16 past the end":   {0xde, 0xff, 0xff, 0xc0, 0xc0},
		"ext32 past the end":   {0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01},
		"truncated header":     {0xcd, 0x01},
		"unused type byte":     {0xc1},
		"empty":                {},
	} {
		if err := CheckMsgpack(b, MaxMsgpackDepth); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if err := UnmarshalMsgpack(b, new(any)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	nested := append(bytes.Repeat([]byte{0x91}, 10), 0xc0)
	if err := CheckMsgpack(nested, 11); err != nil {
		t.Errorf("10 levels, limit 11: %v", err)
	}
	if err := CheckMsgpack(nested, 10); err == nil {
		t.Error("10 levels, limit 10: accepted")
	}
}

// TestUnmarshalMsgpackRefusesARepeatedKey: a map that names a key twice,
// whose values are maps decoded into an interface field, panics the
// decoder (a fuzzer found it in an attachment row); it is refused instead.
func TestUnmarshalMsgpackRefusesARepeatedKey(t *testing.T) {
	var v struct {
		A any `msgpack:"a"`
	}
	// {"a": {"x": 1}, "a": {"y": 2}}
	b := []byte{0x82, 0xa1, 'a', 0x81, 0xa1, 'x', 1, 0xa1, 'a', 0x81, 0xa1, 'y', 2}
	if err := CheckMsgpack(b, MaxMsgpackDepth); err != nil {
		t.Fatalf("the bytes are sound msgpack, yet: %v", err)
	}
	if err := UnmarshalMsgpack(b, &v); !errors.Is(err, ErrMsgpackMalformed) {
		t.Fatalf("got %v, want ErrMsgpackMalformed", err)
	}
}
