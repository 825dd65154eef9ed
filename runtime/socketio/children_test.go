package socketio

import (
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// connectError sends a CONNECT for nsp and returns the connect_error
// message, failing if the namespace is joined instead.
func (c *rawClient) connectError(nsp string) string {
	c.t.Helper()
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: nsp})
	p := c.next()
	if p.Type != siopacket.ConnectError || p.Namespace != nsp {
		c.t.Fatalf("connect %s: got %v %s %s, want a connect_error", nsp, p.Type, p.Namespace, p.Data)
	}
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(p.Data, &body)
	return body.Message
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNamespaceFloodFromOneConnectionIsRefused(t *testing.T) {
	ts := newTestServer(t, &Options{MaxNamespacesPerConnection: 5})
	ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	flood := ts.dial(t)
	for i := range 5 {
		flood.connect(fmt.Sprintf("/room-%d", i), "")
	}
	for i := 5; i < 50; i++ {
		if msg := flood.connectError(fmt.Sprintf("/room-%d", i)); msg != "Too many namespaces on this connection" {
			t.Fatalf("connect_error %q", msg)
		}
	}
	if n := ts.childCount(); n != 5 {
		t.Errorf("%d dynamic namespaces after the refused flood, want 5", n)
	}
	// Another client still connects, to a new child as well.
	other := ts.dial(t)
	other.connect("/room-1000", "")
	other.connect("/", "")
	// Leaving a namespace makes room for another on the same connection.
	flood.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/room-0"})
	waitFor(t, "room-0 to go", func() bool { return ts.childCount() == 5 })
	flood.connect("/room-77", "")
}

func TestDynamicNamespaceLimitPerServer(t *testing.T) {
	ts := newTestServer(t, &Options{MaxDynamicNamespaces: 3})
	ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	a, b := ts.dial(t), ts.dial(t)
	a.connect("/room-1", "")
	a.connect("/room-2", "")
	b.connect("/room-3", "")
	if msg := b.connectError("/room-4"); msg != "Too many namespaces on this server" {
		t.Errorf("connect_error %q", msg)
	}
	// Existing children and static namespaces still accept sockets.
	b.connect("/room-1", "")
	b.connect("/", "")
	// A child that empties frees its place.
	a.conn.Close()
	waitFor(t, "room-2 to go", func() bool { return ts.childCount() == 2 })
	b.connect("/room-4", "")
}

func TestEmptyChildNamespacesAreRemoved(t *testing.T) {
	ts := newTestServer(t, &Options{MaxNamespacesPerConnection: -1})
	parent := ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	ts.OfFunc(func(name string, _ json.RawMessage) bool { return name == "/room-refused" }).Use(func(*Socket) error {
		return &ConnectError{Message: "no"}
	})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Warm up the connection so that its own buffers are not counted.
	flood := ts.dial(t)
	flood.connect("/", "")
	before := heap()
	const n = 2000
	for i := range n {
		flood.send(siopacket.Packet{Type: siopacket.Connect, Namespace: fmt.Sprintf("/room-%d", i)})
	}
	for range n {
		if p := flood.next(); p.Type != siopacket.Connect {
			t.Fatalf("got %v %s", p.Type, p.Data)
		}
	}
	if got := ts.childCount(); got != n {
		t.Fatalf("%d dynamic namespaces, want %d", got, n)
	}
	during := heap()
	// A child whose only CONNECT is refused by middleware goes at once.
	if msg := flood.connectError("/room-refused"); msg != "no" {
		t.Errorf("connect_error %q", msg)
	}
	flood.conn.Close()
	waitFor(t, "the children to go", func() bool { return ts.childCount() == 0 })
	ts.mu.RLock()
	nsps, children := len(ts.nsps), len(parent.childList())
	ts.mu.RUnlock()
	if nsps != 1 || children != 0 {
		t.Errorf("%d namespaces, %d children left, want only /", nsps, children)
	}
	after := heap()
	perNamespace := float64(int64(during)-int64(before)) / n
	t.Logf("FIGURE heap per dynamic namespace: %.0f bytes", perNamespace)
	t.Logf("FIGURE heap held after the flood left: %d KiB (%d KiB during)", (int64(after)-int64(before))/1024, (int64(during)-int64(before))/1024)
	if after > before+(during-before)/4 {
		t.Errorf("heap %d -> %d during the flood -> %d after it left: not released", before, during, after)
	}
}

func TestKeepEmptyChildNamespaces(t *testing.T) {
	ts := newTestServer(t, &Options{KeepEmptyChildNamespaces: true})
	ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	c := ts.dial(t)
	c.connect("/room-1", "")
	c.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/room-1"})
	c.connect("/", "")
	if n := ts.childCount(); n != 1 {
		t.Errorf("%d children kept, want 1", n)
	}
	// A child taken with Of is the application's: it stays when empty.
	ts2 := newTestServer(t, nil)
	ts2.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	c2 := ts2.dial(t)
	c2.connect("/room-1", "")
	pinned := ts2.Of("/room-1")
	c2.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/room-1"})
	c2.connect("/", "")
	if ts2.Of("/room-1") != pinned {
		t.Error("a namespace taken with Of was removed when it emptied")
	}
}

func TestEmptyChildWaitsForRecovery(t *testing.T) {
	const window = 300 * time.Millisecond
	ts := newTestServer(t, &Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: window}})
	ts.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	c := ts.dial(t)
	c.connect("/room-1", "")
	c.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/room-1"})
	c.connect("/", "")
	left := time.Now()
	if n := ts.childCount(); n != 1 {
		t.Fatalf("%d children right after the last socket left, want 1 until the recovery window ends", n)
	}
	waitFor(t, "the child to go", func() bool { return ts.childCount() == 0 })
	if since := time.Since(left); since < window/2 {
		t.Errorf("child removed %v after it emptied, before the recovery window of %v", since, window)
	}
}
