package siopacket

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var placeholderSeeds = []string{
	`["e",{"_placeholder":true,"num":0}]`,
	`["e",{ "num" : 1 , "_placeholder" : true },{"_placeholder":true,"num":0}]`,
	`["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`,
	`["e",{"_placeholder":true,"num":"0"}]`,
	`["e",{"_placeholder":true,"num":1.0}]`,
	`["e",{"_placeholder":true}]`,
	`["e",{"_placeholder":false,"num":0}]`,
	`["e",{"_placeholder":true,"num":0,"x":1}]`,
	`["e",{"_placeholder":true,"_placeholder":true,"num":0}]`,
	`["e",{"\u005fplaceholder":true,"num":0}]`,
	`["e",{"a":{"b":[{"_placeholder":true,"num":0}]}},"{\"_placeholder\":true,\"num\":1}"]`,
	`["e",{"_placeholder":true,"num":{"_placeholder":true,"num":0}}]`,
	`[{"_placeholder":true,"num":-1}]`,
	`[]`,
}

// The scanner must agree with decoding wherever it answers.
func FuzzScanPlaceholders(f *testing.F) {
	for _, s := range placeholderSeeds {
		for n := range 3 {
			f.Add([]byte(s), n)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, attachments int) {
		if !json.Valid(data) || attachments < 0 || attachments > 100 {
			return
		}
		got, ok := scanPlaceholders(data, attachments)
		if !ok {
			return
		}
		if want := checkPlaceholdersDecoded(data, attachments); !errors.Is(got, want) && !(got == nil && want == nil) {
			t.Fatalf("scanPlaceholders(%s, %d) = %v, decoding says %v", data, attachments, got, want)
		}
	})
}

func TestScanPlaceholdersAnswersCommonShapes(t *testing.T) {
	for _, i := range []int{0, 1, 2, 3, 4, 6, 10, 11, 12, 13} {
		s := placeholderSeeds[i]
		if _, ok := scanPlaceholders([]byte(s), 1); !ok {
			t.Errorf("scanPlaceholders left %s to the decoder", s)
		}
	}
}

// TestScanPlaceholdersDeep: deeply nested objects, with placeholders at
// the bottom, inside and beside them, get the decoder's answer.
func TestScanPlaceholdersDeep(t *testing.T) {
	nest := func(depth int, inner string) string {
		return strings.Repeat(`{"a":`, depth) + inner + strings.Repeat("}", depth)
	}
	ph := `{"_placeholder":true,"num":0}`
	for _, tc := range []struct {
		data        string
		attachments int
	}{
		{`["e",` + nest(500, ph) + `]`, 1},
		{`["e",` + nest(500, `"x"`) + `,` + ph + `]`, 1},
		{`["e",` + nest(500, ph) + `,` + ph + `]`, 1},
		{`["e",` + nest(500, `"x"`) + `]`, 1},
		{`["e",{"_placeholder":true,"num":` + nest(200, "0") + `}]`, 1},
		{`["e",{"_placeholder":true,"x":` + nest(200, ph) + `}]`, 1},
		{`["e",[[[[[[` + ph + `]]]]]]]`, 1},
	} {
		got, ok := scanPlaceholders([]byte(tc.data), tc.attachments)
		want := checkPlaceholdersDecoded([]byte(tc.data), tc.attachments)
		if !ok || !errors.Is(got, want) && !(got == nil && want == nil) {
			t.Errorf("scanPlaceholders(%.60s…) = %v, %v; decoding says %v", tc.data, got, ok, want)
		}
	}
}

// BenchmarkScanPlaceholdersDeep is a nearly 1 MB payload nested 9000 deep
// (the decoder's limit is 10 000): the scan must stay linear in the size.
func BenchmarkScanPlaceholdersDeep(b *testing.B) {
	const depth = 9000
	data := []byte(`["e",` + strings.Repeat(`{"a":`, depth) + `"` + strings.Repeat("x", 900<<10) + `"` +
		strings.Repeat("}", depth) + `,{"_placeholder":true,"num":0}]`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err, ok := scanPlaceholders(data, 1); err != nil || !ok {
			b.Fatal(err, ok)
		}
	}
}

func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, `[1]`, ` [ "a,]" , {"b":[1,2]} , null ]`, `["\"]",[[]],-1.5e3,true]`, `{}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var want []json.RawMessage
		wantOK := json.Unmarshal(data, &want) == nil
		got, ok := splitArray(data)
		if ok != wantOK || len(got) != len(want) {
			t.Fatalf("splitArray(%s) = %q %v, want %q %v", data, got, ok, want, wantOK)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("splitArray(%s)[%d] = %s, want %s", data, i, got[i], want[i])
			}
		}
	})
}

// Malformed input, which the trusting parsers may be handed, must neither
// hang nor panic.
func FuzzSplitArrayMalformed(f *testing.F) {
	for _, s := range []string{`[}`, `[,`, `[1,`, `["\`, `[{"a":`, `]`, `[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		splitArray(data)
		p := Packet{Type: Event, Data: data}
		_, _, _ = ParseEvent(&p)
	})
}
