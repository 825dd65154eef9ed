package rpc

import (
	"maps"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestParseMeta(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    callMeta
		wantErr bool
	}{
		{raw: `{}`},
		{raw: `{"timeoutMs":1500}`, want: callMeta{timeout: 1500 * time.Millisecond, hasTimeout: true}},
		// Browsers' clock arithmetic can leave fractions; round up.
		{raw: `{"timeoutMs":1.25}`, want: callMeta{timeout: 1250 * time.Microsecond, hasTimeout: true}},
		{raw: `{"timeoutMs":0.0000001}`, want: callMeta{timeout: 1, hasTimeout: true}},
		// No time left: the handler's context has already ended.
		{raw: `{"timeoutMs":0}`, want: callMeta{hasTimeout: true}},
		{raw: `{"timeoutMs":-20}`, want: callMeta{hasTimeout: true}},
		{raw: `{"timeoutMs":-2.5e3}`, want: callMeta{hasTimeout: true}},
		// More than a time.Duration holds: no deadline, not an overflow.
		{raw: `{"timeoutMs":99999999999999999}`},
		{raw: `{"timeoutMs":1e300}`},
		{raw: `{"timeoutMs":null}`},
		{raw: `{"headers":{"a":"1"},"timeoutMs":7}`, want: callMeta{timeout: 7 * time.Millisecond, hasTimeout: true, headers: map[string]string{"a": "1"}}},
		{raw: `{"other":true}`},
		// The call's id, on the fast path and off it.
		{raw: `{"timeoutMs":30000,"id":"17"}`, want: callMeta{timeout: 30 * time.Second, hasTimeout: true, id: "17"}},
		{raw: `{"timeoutMs":5,"id":"a\u0062"}`, want: callMeta{timeout: 5 * time.Millisecond, hasTimeout: true, id: "ab"}},
		{raw: `{"timeoutMs":5,"id":"9","headers":{"h":"v"}}`, want: callMeta{timeout: 5 * time.Millisecond, hasTimeout: true, id: "9", headers: map[string]string{"h": "v"}}},
		{raw: `{"id":"x"}`, want: callMeta{id: "x"}},
		{raw: `{"timeoutMs":"5"}`, wantErr: true},
		{raw: `{"headers":{"a":1}}`, wantErr: true},
		{raw: `[]`, wantErr: true},
	} {
		got, err := parseMeta([]byte(tc.raw))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseMeta(%s) error %v, want error %v", tc.raw, err, tc.wantErr)
			continue
		}
		if got.timeout != tc.want.timeout || got.hasTimeout != tc.want.hasTimeout || got.id != tc.want.id || !maps.Equal(got.headers, tc.want.headers) {
			t.Errorf("parseMeta(%s) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestNewMessagesAreEmptyAndApart(t *testing.T) {
	slow := (*wrapperspb.StringValue)(nil).ProtoReflect().New().Interface()
	newValue := messageMaker[*wrapperspb.StringValue]()
	a, b, c := newValue(), newValue(), newMessage[*wrapperspb.StringValue]()
	if a == b || a == c || !proto.Equal(a, slow) || !proto.Equal(c, slow) {
		t.Fatalf("made %v, %v and %v, want new empty messages like %v", a, b, c, slow)
	}
	a.Value = "x"
	if b.Value != "" || c.Value != "" {
		t.Fatal("new messages share their fields")
	}
}
