package adaptertest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/runtime/socketio"
)

// RunMixed runs a Go node and a Node socket.io node (cluster_node.mjs,
// on the official adapter ad.Mixed.Peer) on one broker; cluster_clients.mjs then connects official socket.io-client
// sockets to both and checks that broadcasts (text and binary), rooms,
// acks, fetchSockets and serverSideEmit cross both ways, and what
// ad.Mixed.ClientArgs adds (large broadcasts, recovery across nodes).
func RunMixed[B Broker](t *testing.T, ad Adapter[B]) {
	nodepeer.Require(t)
	br := ad.StartBroker(t)
	goNode := ad.StartNode(t, br, NodeOptions{Recovery: ad.Mixed.Recovery, Setup: MixedSetup})
	nodeURL := ad.Mixed.StartPeer(t, br)
	WaitFor(t, "the Node node", func() bool { return ServerCount(goNode) == 2 })
	var more []string
	if ad.Mixed.ClientArgs != nil {
		more = ad.Mixed.ClientArgs(br)
	}
	nodepeer.Run(t, 60*time.Second, "cluster_clients.mjs", append([]string{goNode.URL, nodeURL}, more...)...)
}

// MixedSetup serves, on a Go node, the events cluster_node.mjs serves on
// a Node one, which cluster_clients.mjs asks of both: "broadcast" (room, text)
// emits "hello" (text, bytes) to the room cluster-wide; "broadcast-big"
// (room, size) emits "big" (size bytes, a text of size characters);
// "broadcast-ack" (room) emits "ping" with acks and answers the sorted
// responses; "count" answers the server count; "fetch" answers every
// socket's id, rooms and data; "sse" asks the other nodes "who" and
// answers their sorted answers. It answers "who" itself with "go got".
func MixedSetup(srv *socketio.Server) {
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
				_ = ack(SortedFirsts(responses))
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
			_ = ack(SortedFirsts(answers))
		})
	})
}
