package adaptertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// RunCluster runs three Go nodes, a, b and c, on one broker, each with a
// client in room "r" and c with one more in room "other", and checks, as
// sub-tests, everything a cluster adapter carries between them:
// broadcasts (to all, to rooms, with exceptions, local, binary and large),
// acks, FetchSockets, server-side emits with and without answers, remote
// joins, leaves and disconnections, another namespace, and the count of
// nodes as they start and close.
func RunCluster[B Broker](t *testing.T, ad Adapter[B]) {
	br := ad.StartBroker(t)
	heard := make(chan string, 16)
	answers := func(name string) NodeOptions {
		return NodeOptions{Setup: func(srv *socketio.Server) {
			srv.Of("/").OnServerSideEmit("who", func(args socketio.Args, ack socketio.Ack) {
				var v string
				_ = args.Decode(0, &v)
				heard <- name + " heard " + v
				if ack != nil {
					_ = ack(name + " got " + args.String())
				}
			})
		}}
	}
	a, b, c := ad.StartNode(t, br, answers("a")), ad.StartNode(t, br, answers("b")), ad.StartNode(t, br, answers("c"))
	a1, b1, c1, cOther := Dial(t, a, "r"), Dial(t, b, "r"), Dial(t, c, "r"), Dial(t, c, "other")
	gotA, gotB, gotC, gotOther := Collect(a1, "hello"), Collect(b1, "hello"), Collect(c1, "hello"), Collect(cOther, "hello")
	counted := func(want int, nodes ...*Node) func() bool {
		return func() bool {
			for _, n := range nodes {
				if ServerCount(n) != want {
					return false
				}
			}
			return true
		}
	}
	ad.expectCount(t, "three nodes", counted(3, a, b, c))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("broadcast", func(t *testing.T) {
		_ = b.Srv.Emit("hello", "all")
		for _, ch := range []chan string{gotA, gotB, gotC, gotOther} {
			Expect(t, ch, `["all"]`)
		}
	})
	t.Run("room and binary", func(t *testing.T) {
		_ = a.Srv.To("r").Emit("hello", []byte{1, 2, 3})
		for _, ch := range []chan string{gotA, gotB, gotC} {
			Expect(t, ch, `[1 2 3]`)
		}
		ExpectNothing(t, gotOther)
	})
	t.Run("large binary", func(t *testing.T) {
		big := bytes.Repeat([]byte{9, 8, 7, 6}, 256<<10) // 1 MiB
		_ = a.Srv.To("r").Emit("hello", big)
		for _, ch := range []chan string{gotA, gotB, gotC} {
			Expect(t, ch, `1048576 bytes [9 8 7 6]`)
		}
	})
	t.Run("large text", func(t *testing.T) {
		text := strings.Repeat("é", 5000) // 10 000 bytes of JSON
		_ = b.Srv.Emit("hello", text)
		for _, ch := range []chan string{gotA, gotB, gotC, gotOther} {
			Expect(t, ch, `["`+text+`"]`)
		}
	})
	t.Run("except", func(t *testing.T) {
		_ = a.Srv.Of("/").Except("r").Emit("hello", map[string]any{"n": 1})
		Expect(t, gotOther, `[{"n":1}]`)
		_ = c.Srv.To("r").Except(b1.ID()).Emit("hello", "r but b1")
		Expect(t, gotA, `["r but b1"]`)
		Expect(t, gotC, `["r but b1"]`)
		ExpectNothing(t, gotA, gotB)
	})
	t.Run("local", func(t *testing.T) {
		_ = b.Srv.Of("/").Local().Emit("hello", "local")
		Expect(t, gotB, `["local"]`)
		ExpectNothing(t, gotA, gotC, gotOther)
	})
	t.Run("acks across nodes", func(t *testing.T) {
		acks, err := b.Srv.To("r").EmitWithAck(ctx, "hello", "ack?")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := SortedFirsts(acks), IDsOf(a1, b1, c1); !slices.Equal(got, want) {
			t.Errorf("acks from %v, want %v", got, want)
		}
		for _, ch := range []chan string{gotA, gotB, gotC} {
			Expect(t, ch, `["ack?"]`)
		}
		// Two clients on one remote node.
		acks, err = a.Srv.Of("/").EmitWithAck(ctx, "hello", "all ack?")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := SortedFirsts(acks), IDsOf(a1, b1, c1, cOther); !slices.Equal(got, want) {
			t.Errorf("acks from %v, want %v", got, want)
		}
		for _, ch := range []chan string{gotA, gotB, gotC, gotOther} {
			Expect(t, ch, `["all ack?"]`)
		}
	})
	t.Run("fetchSockets", func(t *testing.T) {
		infos, err := a.Srv.Of("/").In("r").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, info := range infos {
			ids = append(ids, info.ID)
			if fmt.Sprint(info.Data) != "map[room:r]" || !slices.Contains(info.Rooms, "r") {
				t.Errorf("socket %s: data %v, rooms %v", info.ID, info.Data, info.Rooms)
			}
			// A remote socket's handshake crosses too.
			if info.ID != a1.ID() && (info.Handshake.Auth == nil || info.Handshake.Header().Get("Upgrade") != "websocket") {
				t.Errorf("socket %s: remote handshake lost: %+v", info.ID, info.Handshake)
			}
		}
		slices.Sort(ids)
		if want := IDsOf(a1, b1, c1); !slices.Equal(ids, want) {
			t.Errorf("fetched %v, want %v", ids, want)
		}
		all, err := b.Srv.Of("/").FetchSockets(ctx)
		if err != nil || len(all) != 4 {
			t.Errorf("fetched %d sockets of every room, want 4 (%v)", len(all), err)
		}
	})
	t.Run("serverSideEmit with answers", func(t *testing.T) {
		answers, err := a.Srv.Of("/").ServerSideEmitWithAck(ctx, "who", "x")
		if err != nil {
			t.Fatal(err)
		}
		// The sender does not answer itself.
		if got, want := SortedFirsts(answers), []string{`b got ["x"]`, `c got ["x"]`}; !slices.Equal(got, want) {
			t.Errorf("answers %q, want %q", got, want)
		}
		if err := a.Srv.Of("/").ServerSideEmit(ctx, "who", "again"); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for range 4 {
			select {
			case s := <-heard:
				seen = append(seen, s)
			case <-time.After(5 * time.Second):
				t.Fatalf("heard only %v", seen)
			}
		}
		slices.Sort(seen)
		if want := []string{"b heard again", "b heard x", "c heard again", "c heard x"}; !slices.Equal(seen, want) {
			t.Errorf("heard %v, want %v", seen, want)
		}
	})
	t.Run("socketsJoin and socketsLeave", func(t *testing.T) {
		rooms := func(n *Node, s *sioclient.Socket) []string { return n.Srv.Of("/").Adapter().SocketRooms(s.ID()) }
		a.Srv.Of("/").In("other").SocketsJoin("joined")
		WaitFor(t, "the remote join", func() bool { return slices.Contains(rooms(c, cOther), "joined") })
		_ = b.Srv.To("joined").Emit("hello", "to joined")
		Expect(t, gotOther, `["to joined"]`)
		a.Srv.Of("/").In("other").SocketsLeave("joined")
		WaitFor(t, "the remote leave", func() bool { return !slices.Contains(rooms(c, cOther), "joined") })

		// A join of a room with sockets on every node: the local one at
		// once, the remote ones soon after.
		holding := func(n *Node) int { return len(n.Srv.Of("/").Adapter().Sockets([]string{"joined-r"})) }
		a.Srv.Of("/").In("r").SocketsJoin("joined-r")
		if n := holding(a); n != 1 {
			t.Errorf("%d local sockets joined, want 1", n)
		}
		WaitFor(t, "the remote joins", func() bool { return holding(b) == 1 && holding(c) == 1 })
		a.Srv.Of("/").In("joined-r").SocketsLeave("joined-r")
		WaitFor(t, "the remote leaves", func() bool { return holding(a) == 0 && holding(b) == 0 && holding(c) == 0 })
	})
	t.Run("another namespace", func(t *testing.T) {
		b.Srv.Of("/chat")
		c.Srv.Of("/chat")
		onChat := DialNamespace(t, c, "/chat")
		got := Collect(onChat, "hello")
		_ = b.Srv.Of("/chat").Emit("hello", "chat")
		Expect(t, got, `["chat"]`)
		ExpectNothing(t, gotC)
	})
	t.Run("disconnectSockets", func(t *testing.T) {
		goneOther, goneC1 := WatchDisconnect(cOther), WatchDisconnect(c1)
		a.Srv.Of("/").In("other").DisconnectSockets(false)
		ExpectServerDisconnect(t, goneOther, "the remote socket in other")
		if !a1.Connected() || !b1.Connected() || !c1.Connected() {
			t.Error("sockets outside the room were disconnected")
		}
		// By its own room, a socket's id.
		a.Srv.Of("/").In(c1.ID()).DisconnectSockets(false)
		ExpectServerDisconnect(t, goneC1, "the remote socket c1")
		if !a1.Connected() || !b1.Connected() {
			t.Error("other sockets were disconnected with c1")
		}
	})
	t.Run("serverCount", func(t *testing.T) {
		d := ad.StartNode(t, br, NodeOptions{})
		ad.expectCount(t, "four nodes", counted(4, a, d))
		// A node that closes says so: the others count it gone at once,
		// not after the heartbeat timeout.
		d.Close()
		c.Close()
		WaitFor(t, "two nodes", counted(2, a, b))
	})
	t.Run("a closed node is not waited for", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		acks, err := a.Srv.To("r").EmitWithAck(ctx, "hello", "still there?")
		if took := time.Since(start); err != nil || len(acks) != 2 || took > 2*time.Second {
			t.Errorf("acks %d, err %v, after %v", len(acks), err, took)
		}
	})
}

// expectCount fails t unless cond holds at once, or within
// ad.CountWithin where the adapter counts a new node later.
func (ad Adapter[B]) expectCount(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if ad.CountWithin == 0 {
		if !cond() {
			t.Errorf("not %s once they have started", what)
		}
		return
	}
	WaitWithin(t, ad.CountWithin, what, cond)
}
