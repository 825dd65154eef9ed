package postgresadapter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// A Go node and a Node socket.io node on @socket.io/postgres-adapter
// share one PostgreSQL; official socket.io-client sockets on both see
// broadcasts (text and binary, small and over the NOTIFY limit), rooms,
// acks, fetchSockets and serverSideEmit cross both ways.
func TestMixedCluster(t *testing.T) { adaptertest.RunMixed(t, postgres) }

// PostgreSQL killed and restarted under a Go node and a Node node: both
// listen again by themselves, and broadcasts cross both ways again.
func TestMixedClusterSurvivesRestart(t *testing.T) {
	nodepeer.Require(t)
	pg := siotest.StartPostgres(t)
	goNode := startNode(t, pg, nodeOptions{setup: adaptertest.MixedSetup})
	peer := &adaptertest.Node{URL: postgres.Mixed.StartPeer(t, pg)}
	adaptertest.WaitFor(t, "the Node node", func() bool { return adaptertest.ServerCount(goNode.Node) == 2 })
	onGo, onNode := adaptertest.Dial(t, goNode.Node, "r"), adaptertest.Dial(t, peer, "r")
	gotGo, gotNode := adaptertest.Collect(onGo, "hello"), adaptertest.Collect(onNode, "hello")
	// crosses reports whether a broadcast from one side, asked of the
	// client there, reaches the client of the other within a moment.
	crosses := func(from *sioclient.Socket, to chan string, text string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := from.EmitWithAck(ctx, "broadcast", "r", text); err != nil {
			return false
		}
		deadline := time.After(300 * time.Millisecond)
		for {
			select {
			case got := <-to:
				if strings.Contains(got, text) {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !crosses(onGo, gotNode, "go before") || !crosses(onNode, gotGo, "node before") {
		t.Fatal("broadcasts do not cross before the restart")
	}
	pg.Stop()
	time.Sleep(time.Second)
	pg.Start(t)
	restarted := time.Now()
	adaptertest.WaitWithin(t, 15*time.Second, "go's broadcasts on the Node node", func() bool { return crosses(onGo, gotNode, "go after") })
	adaptertest.WaitWithin(t, 15*time.Second, "node's broadcasts on the Go node", func() bool { return crosses(onNode, gotGo, "node after") })
	t.Logf("broadcasts cross both ways %v after the restart", time.Since(restarted).Round(10*time.Millisecond))
}
