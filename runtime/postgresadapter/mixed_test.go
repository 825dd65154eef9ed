package postgresadapter

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// mixedSetup serves, on a Go node, the events postgres_node.mjs serves
// on a Node one.
func mixedSetup(srv *socketio.Server) {
	nsp := srv.Of("/")
	nsp.OnServerSideEmit("who", func(args socketio.Args, ack socketio.Ack) {
		var text string
		_ = args.Decode(0, &text)
		if ack != nil {
			_ = ack("go got " + text)
		}
	})
	srv.OnConnection(func(s *socketio.Socket) {
		ctx := func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}
		s.On("broadcast", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room, text string
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &text)
			_ = srv.To(room).Emit("hello", text, []byte{1, 2})
			if ack != nil {
				_ = ack()
			}
		})
		s.On("broadcast-big", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			var size int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &size)
			_ = srv.To(room).Emit("big", bytes.Repeat([]byte{0x47}, size), strings.Repeat("g", size))
			if ack != nil {
				_ = ack()
			}
		})
		s.On("broadcast-ack", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			// Not on the socket's read goroutine, which must read the
			// socket's own ack.
			go func() {
				c, cancel := ctx()
				defer cancel()
				responses, err := srv.To(room).EmitWithAck(c, "ping")
				if err != nil {
					_ = ack(map[string]string{"error": err.Error()})
					return
				}
				ids := []string{}
				for _, r := range responses {
					var id string
					_ = r.Decode(0, &id)
					ids = append(ids, id)
				}
				slices.Sort(ids)
				_ = ack(ids)
			}()
		})
		s.On("count", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			c, cancel := ctx()
			defer cancel()
			n, _ := nsp.Adapter().ServerCount(c)
			_ = ack(n)
		})
		s.On("fetch", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			c, cancel := ctx()
			defer cancel()
			infos, err := nsp.FetchSockets(c)
			if err != nil {
				_ = ack(map[string]string{"error": err.Error()})
				return
			}
			type described struct {
				ID    string   `json:"id"`
				Rooms []string `json:"rooms"`
				Data  any      `json:"data"`
			}
			out := []described{}
			for _, i := range infos {
				rooms := slices.Clone(i.Rooms)
				slices.Sort(rooms)
				out = append(out, described{i.ID, rooms, i.Data})
			}
			slices.SortFunc(out, func(a, b described) int { return strings.Compare(a.ID, b.ID) })
			_ = ack(out)
		})
		s.On("sse", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			c, cancel := ctx()
			defer cancel()
			answers, err := nsp.ServerSideEmitWithAck(c, "who", "x")
			if err != nil {
				_ = ack(map[string]string{"error": err.Error()})
				return
			}
			got := []string{}
			for _, a := range answers {
				var s string
				_ = a.Decode(0, &s)
				got = append(got, s)
			}
			slices.Sort(got)
			_ = ack(got)
		})
	})
}

// A Go node and a Node socket.io node on @socket.io/postgres-adapter
// share one PostgreSQL; official socket.io-client sockets on both see
// broadcasts (text and binary, small and over the NOTIFY limit), rooms,
// acks, fetchSockets and serverSideEmit cross both ways.
func TestMixedCluster(t *testing.T) {
	nodepeer.Require(t)
	pg := siotest.StartPostgres(t)
	goNode := startNode(t, pg, nodeOptions{setup: mixedSetup})
	nodeURL := "http://127.0.0.1:" + nodepeer.Start(t, "listening", "postgres_node.mjs", pg.Port, "0").Port()
	waitFor(t, "the Node node", func() bool { return serverCount(goNode) == 2 })
	nodepeer.Run(t, 60*time.Second, "postgres_clients.mjs", goNode.url, nodeURL)
}

// PostgreSQL killed and restarted under a Go node and a Node node: both
// listen again by themselves, and broadcasts cross both ways again.
func TestMixedClusterSurvivesRestart(t *testing.T) {
	nodepeer.Require(t)
	pg := siotest.StartPostgres(t)
	goNode := startNode(t, pg, nodeOptions{setup: mixedSetup})
	peer := &node{url: "http://127.0.0.1:" + nodepeer.Start(t, "listening", "postgres_node.mjs", pg.Port, "0").Port()}
	waitFor(t, "the Node node", func() bool { return serverCount(goNode) == 2 })
	onGo, onNode := dial(t, goNode, "r"), dial(t, peer, "r")
	gotGo, gotNode := collect(onGo, "hello"), collect(onNode, "hello")
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
	waitWithin(t, 15*time.Second, "go's broadcasts on the Node node", func() bool { return crosses(onGo, gotNode, "go after") })
	waitWithin(t, 15*time.Second, "node's broadcasts on the Go node", func() bool { return crosses(onNode, gotGo, "node after") })
	t.Logf("broadcasts cross both ways %v after the restart", time.Since(restarted).Round(10*time.Millisecond))
}
