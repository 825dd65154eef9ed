package postgresadapter

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// Three Go nodes on one PostgreSQL: everything a cluster adapter does
// crosses them, large and binary messages through the attachment table.
func TestGoCluster(t *testing.T) {
	pg := siotest.StartPostgres(t)
	answers := func(name string) func(*socketio.Server) {
		return func(srv *socketio.Server) {
			srv.Of("/").OnServerSideEmit("who", func(args socketio.Args, ack socketio.Ack) {
				if ack != nil {
					_ = ack(name + " got " + args.String())
				}
			})
		}
	}
	a, b, c := startNode(t, pg, nodeOptions{setup: answers("a")}), startNode(t, pg, nodeOptions{setup: answers("b")}), startNode(t, pg, nodeOptions{setup: answers("c")})
	a1, b1, c1, cOther := dial(t, a, "r"), dial(t, b, "r"), dial(t, c, "r"), dial(t, c, "other")
	gotA, gotB, gotC, gotOther := collect(a1, "hello"), collect(b1, "hello"), collect(c1, "hello"), collect(cOther, "hello")
	// Each node announced itself once it listened, and the others
	// answered: every node counts three well before the first heartbeat.
	waitWithin(t, 2*time.Second, "three nodes", func() bool { return serverCount(a) == 3 && serverCount(b) == 3 && serverCount(c) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("broadcast", func(t *testing.T) {
		_ = b.srv.Emit("hello", "all")
		for _, ch := range []chan string{gotA, gotB, gotC, gotOther} {
			expect(t, ch, `["all"]`)
		}
	})
	t.Run("room and binary", func(t *testing.T) {
		before := attachments(t, a)
		_ = a.srv.To("r").Emit("hello", []byte{1, 2, 3})
		for _, ch := range []chan string{gotA, gotB, gotC} {
			expect(t, ch, `[1 2 3]`)
		}
		expectNothing(t, gotOther)
		if n := attachments(t, a); n != before+1 {
			t.Errorf("binary: %d attachment rows, want %d", n, before+1)
		}
	})
	t.Run("large binary", func(t *testing.T) {
		big := bytes.Repeat([]byte{9, 8, 7, 6}, 256<<10) // 1 MiB
		_ = a.srv.To("r").Emit("hello", big)
		for _, ch := range []chan string{gotA, gotB, gotC} {
			expect(t, ch, `1048576 bytes [9 8 7 6]`)
		}
	})
	t.Run("large text over the threshold", func(t *testing.T) {
		before := attachments(t, a)
		text := strings.Repeat("é", 5000) // 10 000 bytes of JSON
		_ = b.srv.Emit("hello", text)
		for _, ch := range []chan string{gotA, gotB, gotC, gotOther} {
			expect(t, ch, `["`+text+`"]`)
		}
		if n := attachments(t, a); n != before+1 {
			t.Errorf("large text: %d attachment rows, want %d", n, before+1)
		}
	})
	t.Run("except", func(t *testing.T) {
		_ = a.srv.Of("/").Except("r").Emit("hello", "not r")
		expect(t, gotOther, `["not r"]`)
		_ = c.srv.To("r").Except(b1.ID()).Emit("hello", "r but b1")
		expect(t, gotA, `["r but b1"]`)
		expect(t, gotC, `["r but b1"]`)
		expectNothing(t, gotB)
	})
	t.Run("acks across nodes", func(t *testing.T) {
		acks, err := b.srv.To("r").EmitWithAck(ctx, "hello", "ack?")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ack := range acks {
			var id string
			_ = ack.Decode(0, &id)
			ids = append(ids, id)
		}
		slices.Sort(ids)
		want := []string{a1.ID(), b1.ID(), c1.ID()}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("acks from %v, want %v", ids, want)
		}
		for _, ch := range []chan string{gotA, gotB, gotC} {
			<-ch
		}
	})
	t.Run("fetchSockets", func(t *testing.T) {
		infos, err := a.srv.Of("/").In("r").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, info := range infos {
			ids = append(ids, info.ID)
			if fmt.Sprint(info.Data) != "map[room:r]" || !slices.Contains(info.Rooms, "r") {
				t.Errorf("socket %s: data %v, rooms %v", info.ID, info.Data, info.Rooms)
			}
		}
		slices.Sort(ids)
		want := []string{a1.ID(), b1.ID(), c1.ID()}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("fetched %v, want %v", ids, want)
		}
	})
	t.Run("serverSideEmit with answers", func(t *testing.T) {
		answers, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "who", "x")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ans := range answers {
			var s string
			_ = ans.Decode(0, &s)
			got = append(got, s)
		}
		slices.Sort(got)
		if want := []string{`b got ["x"]`, `c got ["x"]`}; !slices.Equal(got, want) {
			t.Errorf("answers %q, want %q", got, want)
		}
	})
	t.Run("socketsJoin and socketsLeave", func(t *testing.T) {
		a.srv.Of("/").In("other").SocketsJoin("joined")
		waitFor(t, "the remote join", func() bool { return slices.Contains(c.srv.Of("/").Adapter().SocketRooms(cOther.ID()), "joined") })
		_ = b.srv.To("joined").Emit("hello", "to joined")
		expect(t, gotOther, `["to joined"]`)
		a.srv.Of("/").In("other").SocketsLeave("joined")
		waitFor(t, "the remote leave", func() bool { return !slices.Contains(c.srv.Of("/").Adapter().SocketRooms(cOther.ID()), "joined") })
	})
	t.Run("another namespace", func(t *testing.T) {
		// Its channel is LISTENed to while the listener waits.
		b.srv.Of("/chat")
		c.srv.Of("/chat")
		onChat := dialNsp(t, c, "/chat")
		got := collect(onChat, "hello")
		_ = b.srv.Of("/chat").Emit("hello", "chat")
		expect(t, got, `["chat"]`)
		expectNothing(t, gotC)
	})
	t.Run("disconnectSockets", func(t *testing.T) {
		gone := make(chan sioclient.Reason, 1)
		cOther.OnDisconnect(func(_ *sioclient.Socket, r sioclient.Reason) { gone <- r })
		a.srv.Of("/").In("other").DisconnectSockets(false)
		select {
		case r := <-gone:
			if r != sioclient.ReasonServerDisconnect {
				t.Errorf("reason %q", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the remote socket was not disconnected")
		}
		if !a1.Connected() || !c1.Connected() {
			t.Error("sockets outside the room were disconnected")
		}
	})
	t.Run("serverCount", func(t *testing.T) {
		d := startNode(t, pg, nodeOptions{})
		waitWithin(t, 2*time.Second, "four nodes", func() bool { return serverCount(a) == 4 && serverCount(d) == 4 })
		// A node that closes says so: the others count it gone at once,
		// not after the heartbeat timeout.
		d.close()
		c.close()
		waitFor(t, "two nodes", func() bool { return serverCount(a) == 2 && serverCount(b) == 2 })
	})
}

func dialNsp(t *testing.T, n *node, nsp string) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, n.url+nsp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}
