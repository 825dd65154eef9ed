package siopacket

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.25e-3`, `2.`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulls`, `"`, `""`, `"a`, `"\"`, `"\\"`, `"\/"`,
	`"\u00e9"`, `"\u00g9"`, `"\u12"`, `"\x"`, "\"\x01\"", "\"\x7f\xff\xfe\"", `"é"`,
	`[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[ 1 , "a" , [ ] , { } ]`, `{}`, `{`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":1}x`, `{"a":[{"b":null}]}`, ` {"a" : 1 } `, `[}`, `{]`,
	"[\t\n\r 1]", `["e",{"_placeholder":true,"num":0}]`, `[[[[[[[[[[]]]]]]]]]]`, `[1]]`, `[[1]`,
	`["a","b"`, `{"a":1,"b"`, `{"a":1,"b":`, "\ufeff1", `[-]`, `[--1]`, `[1e1.5]`, `[00]`, `[0x1]`,
}

// validJSON must answer exactly as encoding/json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := append([]string{}, validSeeds...)
	cases = append(cases, deep(maxScanDepth), deep(maxScanDepth+1), deep(10000), deep(10001),
		strings.Repeat(`{"a":`, 70)+"1"+strings.Repeat("}", 70), deep(100)+"]")
	for _, s := range cases {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.40q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

func BenchmarkValidJSON(b *testing.B) {
	data := []byte(`["chat.v1.ChatService/SendMessage",{"_placeholder":true,"num":0},{"timeoutMs":5000,"headers":{"x-trace":"abc"}}]`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !validJSON(data) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	data := []byte(`["chat.v1.ChatService/SendMessage",{"_placeholder":true,"num":0},{"timeoutMs":5000,"headers":{"x-trace":"abc"}}]`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !json.Valid(data) {
			b.Fatal("invalid")
		}
	}
}
