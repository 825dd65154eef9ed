// Package adaptertest is the behaviour every cluster adapter shares, as
// tests that run against any of them: Go-only clusters (RunCluster), Go
// and Node nodes with the official clients (RunMixed), and the broker
// killed, restarted or stopped under the nodes (RunKilledAndRestarted,
// RunPausedDoesNotWedge). An adapter's package describes itself in an
// Adapter (how to start its broker and a Go node on it, and what it
// guarantees) and calls the suites from its tests; what only it does
// (its wire format, its broker's own structures) stays in its package.
//
// The suites start real brokers and Node peers (internal/siotest,
// internal/nodepeer), stop them by pid, and bound every wait.
package adaptertest

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// Broker is a broker process the suites can kill and restart (as a crash
// and its recovery would) or stop and continue: *siotest.Redis and
// *siotest.Postgres are.
type Broker interface {
	Stop()              // kills it (SIGKILL)
	Start(t testing.TB) // starts it again after Stop, on the same port
	Pause()             // stops it (SIGSTOP)
	Resume()            // continues it (SIGCONT)
}

// Adapter describes one adapter to the suites.
type Adapter[B Broker] struct {
	// StartBroker starts a broker for one test, stopped when it ends.
	StartBroker func(t testing.TB) B
	// StartNode starts a Go node on b (with StartNode below, say),
	// closed when the test ends.
	StartNode func(t *testing.T, b B, o NodeOptions) *Node
	// CountWithin is how long the other nodes may take to count a node
	// that has started; 0 if they count it as soon as its server exists.
	CountWithin time.Duration
	// Mixed says how a Node socket.io node joins the cluster; RunMixed
	// needs it.
	Mixed *Mixed[B]
	// Fault says what the adapter guarantees when its broker fails; the
	// fault suites need it.
	Fault *Fault[B]
}

// Mixed says how to run a Node peer on an adapter's broker.
type Mixed[B Broker] struct {
	// Peer names the official adapter the Node node runs, as
	// internal/nodepeer/scripts/cluster_node.mjs takes it: classic,
	// pubsub, sharded, streams or postgres.
	Peer string
	// Port returns b's port, as cluster_node.mjs takes it.
	Port func(b B) string
	// Recovery turns connection state recovery on, on both nodes.
	Recovery bool
	// ClientArgs are cluster_clients.mjs's options for this adapter:
	// "large" (broadcasts past a size limit of the broker) and
	// "recovery-redis=<port>" (sessions recover across nodes, kept in
	// that Redis).
	ClientArgs func(b B) []string
}

// StartPeer starts the Node node on b and returns its URL; it is killed
// when the test ends.
func (m *Mixed[B]) StartPeer(t *testing.T, b B) string {
	t.Helper()
	args := []string{m.Peer, m.Port(b), "0"}
	if m.Recovery {
		args = append(args, "recovery")
	}
	return "http://127.0.0.1:" + nodepeer.Start(t, "listening", "cluster_node.mjs", args...).Port()
}

// Fault says what an adapter guarantees while its broker fails.
type Fault[B Broker] struct {
	// StartBroker starts the broker RunKilledAndRestarted kills (one
	// whose data survives a kill, if the adapter relies on that); nil
	// for Adapter.StartBroker.
	StartBroker func(t testing.TB) B
	// Kept returns, in order, the ticks that the broker still holds
	// after the restart, once every tick from has sent is on the
	// broker: a client of another node must receive exactly those. Nil
	// if the broker replays nothing: what is sent while it is down, or
	// before a node listens again, is lost, and nothing else.
	Kept func(t *testing.T, b B, from *Node) []int
	// TickEvery is how often RunKilledAndRestarted broadcasts; 0 for
	// 10ms.
	TickEvery time.Duration
	// PausedBroadcasts bounds how long 20 broadcasts may take while the
	// broker is stopped: the first waits for a timeout of the adapter's
	// client, the others not.
	PausedBroadcasts time.Duration
	// Pause is how long RunPausedDoesNotWedge keeps the broker stopped.
	Pause time.Duration
	// HeardOnceCounted is whether nodes that count each other again
	// after a failure answer each other's requests at once; false where
	// a node may still count another it does not hear yet (until the
	// heartbeat timeout), so that the suites retry.
	HeardOnceCounted bool
	// IgnoreLeaks are goroutines of the broker's client that may outlive
	// the nodes.
	IgnoreLeaks []goleak.Option
}

// NodeOptions are what a suite changes of a Go node.
type NodeOptions struct {
	// Recovery turns connection state recovery on (sessions kept for a
	// minute).
	Recovery bool
	// Setup is called on the server before it serves, after
	// JoinFromAuth.
	Setup func(*socketio.Server)
}

// Node is one Go server of a cluster under test.
type Node struct {
	Srv       *socketio.Server
	URL       string
	closeOnce sync.Once
	close     func()
}

// Close closes the server and what it was given to reach the broker; a
// second call does nothing.
func (n *Node) Close() { n.closeOnce.Do(n.close) }

// StartNode serves a Go node with the adapter factory on a loopback
// port: each socket joins the room its auth names (JoinFromAuth), then
// o.Setup runs. release closes the broker's client once the server has
// closed. The node is closed when the test ends.
func StartNode(t *testing.T, adapter sioadapter.Factory, o NodeOptions, release func()) *Node {
	t.Helper()
	so := &socketio.Options{Adapter: adapter}
	if o.Recovery {
		so.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
	}
	srv := socketio.NewServer(so)
	JoinFromAuth(srv)
	if o.Setup != nil {
		o.Setup(srv)
	}
	hs := httptest.NewServer(srv)
	n := &Node{Srv: srv, URL: hs.URL}
	n.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
		if release != nil {
			release()
		}
	}
	t.Cleanup(n.Close)
	return n
}
