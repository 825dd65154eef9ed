package rpc

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

type testKey struct{}

func newCallContext(parent context.Context, info CallInfo) *callContext {
	calls := &socketCalls{}
	calls.socket.Store(info.Socket)
	c := &call{h: &Handler{event: info.Event}, calls: calls, meta: callMeta{headers: info.Header}}
	c.ctx.init(parent, c)
	return &c.ctx
}

func TestCallContextEndsWithTheCall(t *testing.T) {
	parent := context.WithValue(context.Background(), testKey{}, "v")
	// Asked before the end: Done closes at the end.
	cc := newCallContext(parent, CallInfo{Event: "pkg.S/M"})
	done := cc.Done()
	derived, cancel := context.WithTimeout(cc, time.Hour)
	defer cancel()
	if cc.Err() != nil {
		t.Fatal("context done before the call ended")
	}
	if ci, ok := CallInfoFromContext(cc); !ok || ci.Event != "pkg.S/M" || cc.Value(testKey{}) != "v" {
		t.Errorf("values: %+v %v %v", ci, ok, cc.Value(testKey{}))
	}
	cc.end()
	<-done
	<-derived.Done()
	if !errors.Is(cc.Err(), context.Canceled) {
		t.Errorf("Err after end = %v", cc.Err())
	}
	// First asked after the end: already done.
	late := newCallContext(parent, CallInfo{})
	late.end()
	select {
	case <-late.Done():
	default:
		t.Error("Done of an ended call is not closed")
	}
}

func TestCallContextFollowsItsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	cc := newCallContext(parent, CallInfo{})
	defer cc.end()
	done := cc.Done()
	cancel() // the socket disconnected
	<-done
	if !errors.Is(cc.Err(), context.Canceled) {
		t.Errorf("Err = %v", cc.Err())
	}
	deadline, parentDeadline := time.Now().Add(time.Minute), context.Background()
	withDeadline, cancelDeadline := context.WithDeadline(parentDeadline, deadline)
	defer cancelDeadline()
	if d, ok := newCallContext(withDeadline, CallInfo{}).Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline = %v %v", d, ok)
	}
}

// A context derived from a call's registers with it directly: no goroutine
// watches the call's Done channel.
func TestCallContextDerivedContextsNeedNoGoroutine(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	cc := newCallContext(parent, CallInfo{})
	before := runtime.NumGoroutine()
	derived, cancel := context.WithTimeout(cc, time.Hour)
	defer cancel()
	if after := runtime.NumGoroutine(); after != before {
		t.Errorf("deriving a context started %d goroutines", after-before)
	}
	cc.end()
	<-derived.Done()
}
