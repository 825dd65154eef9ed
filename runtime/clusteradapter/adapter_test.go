package clusteradapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bus is an in-memory transport: every node's messages reach the others
// in order, through JSON as a broker would carry them.
type bus struct {
	offsets bool // number the published messages, as a log would

	mu    sync.Mutex
	nodes []*busNode
	next  int
}

type busNode struct {
	bus   *bus
	a     *clusteradapter.Adapter
	inbox chan delivery
	muted atomic.Bool // sends nothing: a node gone silent
	done  chan struct{}
}

type delivery struct {
	m        *clusteradapter.Message
	offset   string
	response bool
}

// roundTrip encodes m as JSON and decodes it back, as a transport would.
func roundTrip(t testing.TB, m *clusteradapter.Message) *clusteradapter.Message {
	b, err := json.Marshal(m)
	if err != nil {
		t.Errorf("encoding %s: %v", m.Type, err)
		return nil
	}
	var env struct {
		UID  string                     `json:"uid"`
		Nsp  string                     `json:"nsp"`
		Type clusteradapter.MessageType `json:"type"`
		Data json.RawMessage            `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Errorf("decoding %s: %v", m.Type, err)
		return nil
	}
	out := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type, Data: clusteradapter.NewData(env.Type)}
	if out.Data != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out.Data); err != nil {
			t.Errorf("decoding %s data: %v", m.Type, err)
		}
	}
	return out
}

// transport is a node's clusteradapter.Transport.
type transport struct {
	t testing.TB
	n *busNode
}

func (tr transport) Publish(_ context.Context, m *clusteradapter.Message) (string, error) {
	n := tr.n
	if n.muted.Load() {
		return "", nil
	}
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	offset := ""
	if n.bus.offsets {
		n.bus.next++
		offset = strconv.Itoa(n.bus.next) + "-0"
	}
	for _, o := range n.bus.nodes {
		if o != n {
			o.inbox <- delivery{m: roundTrip(tr.t, m), offset: offset}
		}
	}
	return offset, nil
}

func (tr transport) PublishResponse(_ context.Context, uid string, m *clusteradapter.Message) error {
	n := tr.n
	if n.muted.Load() {
		return nil
	}
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	for _, o := range n.bus.nodes {
		if o.a.UID() == uid {
			o.inbox <- delivery{m: roundTrip(tr.t, m), response: true}
		}
	}
	return nil
}

func (tr transport) ServerCount(context.Context) (int, error) {
	tr.n.bus.mu.Lock()
	defer tr.n.bus.mu.Unlock()
	return len(tr.n.bus.nodes), nil
}

// logAdapter is the adapter of a transport with offsets, which keeps the
// broadcasts itself: the memory adapter's offsets are not recorded.
type logAdapter struct{ *clusteradapter.Adapter }

func (logAdapter) Record(*siopacket.Packet, sioadapter.BroadcastOptions) error { return nil }

// node is a server on the bus.
type node struct {
	srv *socketio.Server
	url string
	bn  *busNode
}

func (b *bus) start(t *testing.T, opts *clusteradapter.Options, recovery bool) *node {
	t.Helper()
	bn := &busNode{bus: b, inbox: make(chan delivery, 1024), done: make(chan struct{})}
	so := &socketio.Options{Adapter: func(h sioadapter.Host) sioadapter.Adapter {
		bn.a = clusteradapter.New(h, transport{t, bn}, opts)
		var adapter sioadapter.Adapter = bn.a
		if b.offsets {
			adapter = logAdapter{bn.a}
		}
		b.mu.Lock()
		b.nodes = append(b.nodes, bn)
		b.mu.Unlock()
		go func() {
			defer close(bn.done)
			for d := range bn.inbox {
				if d.m == nil {
					continue
				}
				if d.response {
					bn.a.OnResponse(d.m)
				} else {
					bn.a.OnMessage(d.m, d.offset)
				}
			}
		}()
		bn.a.Init()
		return adapter
	}}
	if recovery {
		so.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
	}
	srv := socketio.NewServer(so)
	srv.Use(func(s *socketio.Socket) error {
		s.Join("r")
		return nil
	})
	hs := httptest.NewServer(srv)
	n := &node{srv: srv, url: hs.URL, bn: bn}
	t.Cleanup(func() { n.stop(); hs.Close() })
	return n
}

// stop closes the server and takes the node off the bus.
func (n *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.srv.Close(ctx)
	b := n.bn.bus
	b.mu.Lock()
	for i, o := range b.nodes {
		if o == n.bn {
			b.nodes = append(b.nodes[:i], b.nodes[i+1:]...)
			close(o.inbox)
			break
		}
	}
	b.mu.Unlock()
	<-n.bn.done
}

func count(n *node) int {
	c, _ := n.srv.Of("/").Adapter().ServerCount(context.Background())
	return c
}

func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// A node that starts is counted by the others, and counts them, at once:
// its INITIAL_HEARTBEAT is answered (the interval and the timeout are far
// longer than the test). One that closes is forgotten at once
// (ADAPTER_CLOSE).
func TestHeartbeatInitialAndClose(t *testing.T) {
	b := &bus{}
	opts := &clusteradapter.Options{Heartbeat: &clusteradapter.HeartbeatOptions{Interval: time.Minute, Timeout: time.Minute}}
	n1, n2 := b.start(t, opts, false), b.start(t, opts, false)
	n3 := b.start(t, opts, false)
	within(t, 200*time.Millisecond, "three nodes counted", func() bool { return count(n1) == 3 && count(n2) == 3 && count(n3) == 3 })
	n3.stop()
	within(t, 200*time.Millisecond, "a closed node forgotten", func() bool { return count(n1) == 2 && count(n2) == 2 })
}

// A node that beats stays counted however long it is otherwise silent;
// one that goes silent is forgotten after the heartbeat timeout.
func TestHeartbeatTimeout(t *testing.T) {
	b := &bus{}
	opts := &clusteradapter.Options{Heartbeat: &clusteradapter.HeartbeatOptions{Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}}
	n1, n2, n3 := b.start(t, opts, false), b.start(t, opts, false), b.start(t, opts, false)
	within(t, 200*time.Millisecond, "three nodes", func() bool { return count(n1) == 3 && count(n2) == 3 })
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if count(n1) != 3 || count(n2) != 3 {
			t.Fatal("a beating node was forgotten")
		}
		time.Sleep(20 * time.Millisecond)
	}
	n3.bn.muted.Store(true)
	took := within(t, 3*time.Second, "a silent node forgotten", func() bool { return count(n1) == 2 && count(n2) == 2 })
	if took < 250*time.Millisecond {
		t.Errorf("a silent node was forgotten after %v, before the timeout", took)
	}
}

// With heartbeats a request waits for the nodes it knows; one that goes
// silent meanwhile is dropped from it when it times out, and the request
// returns what came, without an error. A node that does not answer makes
// the request time out.
func TestHeartbeatRequests(t *testing.T) {
	b := &bus{}
	opts := &clusteradapter.Options{RequestsTimeout: time.Second, Heartbeat: &clusteradapter.HeartbeatOptions{Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}}
	n1, n2, n3 := b.start(t, opts, false), b.start(t, opts, false), b.start(t, opts, false)
	within(t, 200*time.Millisecond, "three nodes", func() bool { return count(n1) == 3 })
	dial(t, n1)
	dial(t, n2)
	dial(t, n3)
	ctx := context.Background()
	infos, err := n1.srv.Of("/").FetchSockets(ctx)
	if err != nil || len(infos) != 3 {
		t.Fatalf("FetchSockets = %d sockets, %v", len(infos), err)
	}
	n3.bn.muted.Store(true)
	start := time.Now()
	infos, err = n1.srv.Of("/").FetchSockets(ctx)
	if err != nil || len(infos) != 2 {
		t.Errorf("FetchSockets with a silent node = %d sockets, %v", len(infos), err)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("FetchSockets waited %v for a node that went silent", took)
	}
	answers, err := n1.srv.Of("/").ServerSideEmitWithAck(ctx, "nobody-answers")
	if !errors.Is(err, clusteradapter.ErrTimeout) {
		t.Errorf("a server-side emit nobody answers returned %v, %v", answers, err)
	}
}

func dial(t *testing.T, n *node) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, n.url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

// A transport with offsets (a log) gives each broadcast one, which the
// clients of every node receive as its last argument when recovery is
// on: the same offset wherever the client is.
func TestBroadcastCarriesTheTransportsOffset(t *testing.T) {
	b := &bus{offsets: true}
	n1, n2 := b.start(t, nil, true), b.start(t, nil, true)
	c1, c2 := dial(t, n1), dial(t, n2)
	got := make(chan string, 2)
	for _, c := range []*sioclient.Socket{c1, c2} {
		c.On("hello", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) { got <- args.String() })
	}
	_ = n1.srv.Emit("hello", "x")
	for range 2 {
		select {
		case s := <-got:
			if s != `["x","1-0"]` {
				t.Errorf("a client got %s, want the bus's offset 1-0 last", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing received")
		}
	}
}

func TestMessageType(t *testing.T) {
	if s := clusteradapter.AdapterClose.String(); s != "ADAPTER_CLOSE" {
		t.Errorf("AdapterClose is %q", s)
	}
	if s := clusteradapter.MessageType(99).String(); s != "MessageType(99)" {
		t.Errorf("99 is %q", s)
	}
	for typ := clusteradapter.InitialHeartbeat; typ <= clusteradapter.AdapterClose; typ++ {
		hasData := clusteradapter.NewData(typ) != nil
		if want := typ >= clusteradapter.Broadcast && typ <= clusteradapter.BroadcastAck; hasData != want {
			t.Errorf("%s: data %v", typ, hasData)
		}
	}
}

// Whatever a broker delivers, the adapter does not panic.
func FuzzOnMessage(f *testing.F) {
	for _, seed := range []string{
		`{"uid":"x","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["e",1]},"opts":{"rooms":["r"],"except":[]}}}`,
		`{"uid":"x","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["e"]},"requestId":"1","opts":{"rooms":[],"except":[]}}}`,
		`{"uid":"x","nsp":"/","type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["a",1]}}`,
		`{"uid":"x","nsp":"/","type":6,"data":{"opts":{"rooms":["zz"],"except":[]},"close":true}}`,
		`{"uid":"x","nsp":"/","type":7,"data":{"opts":{"rooms":[],"except":[]},"requestId":"2"}}`,
		`{"uid":"x","nsp":"/","type":9,"data":{"packet":["e",{"a":[1,2]}],"requestId":"3"}}`,
		`{"uid":"x","nsp":"/","type":8,"data":{"requestId":"3","sockets":[{"id":"s","rooms":["s"],"handshake":{}}]}}`,
		`{"uid":"x","nsp":"/","type":12,"data":{"requestId":"3","packet":{"a":1}}}`,
		`{"uid":"x","nsp":"/","type":1}`, `{"uid":"x","nsp":"/","type":13}`,
	} {
		f.Add(seed)
	}
	b := &bus{}
	srv := socketio.NewServer(&socketio.Options{Adapter: func(h sioadapter.Host) sioadapter.Adapter {
		bn := &busNode{bus: b}
		bn.a = clusteradapter.New(h, transport{f, bn}, &clusteradapter.Options{Heartbeat: &clusteradapter.HeartbeatOptions{}})
		return bn.a
	}})
	defer srv.Close(context.Background())
	a := srv.Of("/").Adapter().(*clusteradapter.Adapter)
	f.Fuzz(func(t *testing.T, s string) {
		var env struct {
			UID  string                     `json:"uid"`
			Nsp  string                     `json:"nsp"`
			Type clusteradapter.MessageType `json:"type"`
			Data json.RawMessage            `json:"data"`
		}
		if json.Unmarshal([]byte(s), &env) != nil {
			return
		}
		m := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type, Data: clusteradapter.NewData(env.Type)}
		if m.Data != nil && len(env.Data) > 0 && json.Unmarshal(env.Data, m.Data) != nil {
			return
		}
		_ = m.HasBinary()
		_ = m.Rooms()
		_, _, _ = m.DecodeBroadcast()
		a.OnMessage(m, "1-0")
		a.OnResponse(m)
	})
}
