package rpc

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// TestCallMetaWireForm pins the metadata a Go client sends: the deadline
// first, then the call's id as a decimal string, then the headers.
func TestCallMetaWireForm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		ctx  context.Context
		id   uint64
		want string
	}{
		{context.Background(), 0, `^\{\}$`},
		{context.Background(), 7, `^\{"id":"7"\}$`},
		{ctx, 12, `^\{"timeoutMs":[0-9]{4,5},"id":"12"\}$`},
		{WithHeaders(ctx, map[string]string{"k": "v"}), 3, `^\{"timeoutMs":[0-9]+,"id":"3","headers":\{"k":"v"\}\}$`},
	} {
		got := string(appendMeta(tc.ctx, tc.id))
		if !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("meta %s, want %s", got, tc.want)
		}
		if m, err := parseMeta([]byte(got)); err != nil || (tc.ctx == ctx && !m.hasTimeout) {
			t.Errorf("the server cannot read %s: %+v, %v", got, m, err)
		}
	}
}
