package siopacket

import (
	"bytes"
	"encoding/json"
	"errors"
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
