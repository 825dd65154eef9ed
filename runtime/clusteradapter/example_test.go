package clusteradapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// broker stands for a message broker: it hands what one node publishes to
// every other node, as JSON, in order (each node reads its own inbox on a
// goroutine of its own, as a transport reads its broker).
type broker struct {
	mu    sync.Mutex
	nodes []brokerNode
}

type brokerNode struct {
	a     *clusteradapter.Adapter
	inbox chan func()
}

// close stops the nodes' readers.
func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.nodes {
		close(n.inbox)
	}
}

// brokerTransport is one node's clusteradapter.Transport on the broker.
type brokerTransport struct {
	b    *broker
	self func() *clusteradapter.Adapter
}

func (t brokerTransport) Publish(_ context.Context, m *clusteradapter.Message) (string, error) {
	return "", t.b.deliver(m, func(a *clusteradapter.Adapter) bool { return a != t.self() }, false)
}

func (t brokerTransport) PublishResponse(_ context.Context, uid string, m *clusteradapter.Message) error {
	return t.b.deliver(m, func(a *clusteradapter.Adapter) bool { return a.UID() == uid }, true)
}

// deliver encodes m as the wire would carry it and decodes it for each
// node it is for, as that node's transport would on receipt.
func (b *broker) deliver(m *clusteradapter.Message, to func(*clusteradapter.Adapter) bool, response bool) error {
	wire, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.nodes {
		a := n.a
		if !to(a) {
			continue
		}
		var env struct {
			UID  string                     `json:"uid"`
			Nsp  string                     `json:"nsp"`
			Type clusteradapter.MessageType `json:"type"`
			Data json.RawMessage            `json:"data"`
		}
		if json.Unmarshal(wire, &env) != nil {
			continue // a real transport logs and drops what it cannot read
		}
		got := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type, Data: clusteradapter.NewData(env.Type)}
		if got.Data != nil && len(env.Data) > 0 && json.Unmarshal(env.Data, got.Data) != nil {
			continue
		}
		n.inbox <- func() {
			if response {
				a.OnResponse(got)
			} else {
				a.OnMessage(got, "")
			}
		}
	}
	return nil
}

// factory is what socketio.Options.Adapter takes: one adapter per
// namespace, on the broker, with heartbeats so that nodes count each other.
func (b *broker) factory(h sioadapter.Host) sioadapter.Adapter {
	var a *clusteradapter.Adapter
	a = clusteradapter.New(h, brokerTransport{b: b, self: func() *clusteradapter.Adapter { return a }},
		&clusteradapter.Options{Heartbeat: &clusteradapter.HeartbeatOptions{}})
	inbox := make(chan func(), 1024)
	go func() {
		for deliver := range inbox {
			deliver()
		}
	}()
	b.mu.Lock()
	b.nodes = append(b.nodes, brokerNode{a: a, inbox: inbox})
	b.mu.Unlock()
	a.Init() // announces the node once the transport delivers to it
	return a
}

// A new adapter for another broker is a Transport: Publish and
// PublishResponse send, and what arrives goes to OnMessage and OnResponse.
// Here two servers share a broadcast through an in-process broker.
func ExampleNew() {
	b := &broker{}
	defer b.close() // last, once the servers are closed
	var servers []*socketio.Server
	var urls []string
	for range 2 {
		srv := socketio.NewServer(&socketio.Options{Adapter: b.factory})
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close(context.Background())
		servers = append(servers, srv)
		urls = append(urls, hs.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := sioclient.Connect(ctx, urls[1], nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Manager().Close()
	got := make(chan string, 1)
	client.On("news", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var s string
		_ = args.Decode(0, &s)
		got <- s
	})
	// The client is on the second server; the first broadcasts.
	_ = servers[0].Emit("news", "hello from node 0")
	select {
	case s := <-got:
		fmt.Println(s)
	case <-ctx.Done():
		fmt.Println("nothing arrived")
	}
	// Output: hello from node 0
}
