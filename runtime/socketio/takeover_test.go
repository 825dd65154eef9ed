package socketio

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Recovery while the server still holds the client's old connection: a
// client whose network changed (or that reconnected faster than the
// server saw its connection end) presents its session while the old
// socket is, to the server, still connected.

// disconnects records the disconnect reasons of a namespace's sockets.
type disconnects struct {
	mu      sync.Mutex
	reasons map[*Socket][]DisconnectReason
	changed chan struct{}
}

func newDisconnects() *disconnects {
	return &disconnects{reasons: map[*Socket][]DisconnectReason{}, changed: make(chan struct{}, 64)}
}

func (d *disconnects) watch(s *Socket) {
	s.OnDisconnect(func(s *Socket, r DisconnectReason) {
		d.mu.Lock()
		d.reasons[s] = append(d.reasons[s], r)
		d.mu.Unlock()
		select {
		case d.changed <- struct{}{}:
		default:
		}
	})
}

func (d *disconnects) of(s *Socket) []DisconnectReason {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.reasons[s])
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRecoveryFromAHalfOpenConnection: the client's connection is left
// half-open (the server sees nothing), broadcasts go out, and the client
// comes back at once with its session: it gets its id, rooms and data,
// and the broadcasts it missed; the old socket leaves once, as a lost
// connection, and its engine.io connection is closed.
func TestRecoveryFromAHalfOpenConnection(t *testing.T) {
	// The default heartbeat: the server would notice the loss only after 45 s.
	srv := NewServer(&Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	hs := siotest.Serve(t, srv, srv)
	d := newDisconnects()
	sockets := make(chan *Socket, 4)
	srv.OnConnection(func(s *Socket) {
		d.watch(s)
		if !s.Recovered() {
			s.Join("room")
			s.SetData("kept")
		}
		sockets <- s
	})
	serverAddr := strings.TrimPrefix(hs.URL, "http://")
	proxy := siotest.StartProxy(t, serverAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := sioclient.Connect(ctx, "http://"+proxy.Addr(), &sioclient.Options{
		Transports:        []string{engineio.TransportWebSocket},
		ReconnectionDelay: time.Millisecond, ReconnectionDelayMax: 20 * time.Millisecond, RandomizationFactor: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Manager().Close()
	news := make(chan int, 16)
	client.On("news", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var n int
		_ = args.Decode(0, &n)
		news <- n
	})
	lost := make(chan sioclient.Reason, 4)
	client.OnDisconnect(func(_ *sioclient.Socket, r sioclient.Reason) { lost <- r })
	back := make(chan struct{}, 4)
	client.OnConnect(func(*sioclient.Socket) { back <- struct{}{} })

	first := wait(t, sockets)
	sid := client.ID()
	_ = srv.To("room").Emit("news", 0) // the offset the client resumes from
	if n := wait(t, news); n != 0 || !client.Recoverable() {
		t.Fatalf("news %d, recoverable %v", n, client.Recoverable())
	}

	// Until the broadcasts below are out, reconnections find nobody.
	proxy.SetTarget(deadAddr(t))
	proxy.Strand()
	wait(t, lost)
	if !first.Connected() {
		t.Fatal("the server saw the stranded connection end")
	}
	_ = srv.To("room").Emit("news", 1)  // missed
	_ = srv.To("other").Emit("news", 9) // not for it
	_ = srv.Emit("news", 2)             // missed
	proxy.SetTarget(serverAddr)

	wait(t, back)
	second := wait(t, sockets)
	if client.ID() != sid || !client.Recovered() {
		t.Fatalf("the client came back as %q, recovered %v; want %q recovered", client.ID(), client.Recovered(), sid)
	}
	if second.ID() != sid || !second.Recovered() || second.Data() != "kept" || !slices.Contains(second.Rooms(), "room") {
		t.Fatalf("server side: id %q recovered %v data %v rooms %v", second.ID(), second.Recovered(), second.Data(), second.Rooms())
	}
	for _, want := range []int{1, 2} {
		if n := wait(t, news); n != want {
			t.Fatalf("missed broadcast %d, want %d", n, want)
		}
	}
	// The old socket left before the new one was handed out.
	if r := d.of(first); len(r) != 1 || !slices.Contains(recoverable, r[0]) {
		t.Fatalf("the old socket's disconnect reasons %v, want one recoverable", r)
	}
	if first.Connected() || !second.Connected() {
		t.Fatalf("old connected %v, new connected %v", first.Connected(), second.Connected())
	}
	if got := srv.Of("/").Sockets(); len(got) != 1 || got[0] != second {
		t.Fatalf("the namespace holds %d sockets", len(got))
	}
	// Its engine.io connection, with no other namespace, is closed.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Engine.WebSocketSessions != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d engine.io sessions, want the new one only", srv.Stats().Engine.WebSocketSessions)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The session goes on: a broadcast to its room still reaches it.
	_ = srv.To("room").Emit("news", 3)
	if n := wait(t, news); n != 3 {
		t.Fatalf("news %d after the recovery, want 3", n)
	}
	if r := d.of(first); len(r) != 1 {
		t.Fatalf("the old socket left %d times", len(r))
	}
}

// claimAuth is the auth of a CONNECT that claims session pid.
func claimAuth(pid, offset string) string { return fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, offset) }

// sessionWithOffset connects a raw client, puts its socket in room
// "room" with data "kept", and returns the socket, its session and an
// offset to resume from.
func sessionWithOffset(t *testing.T, ts *testServer, sockets <-chan *Socket) (c *rawClient, s *Socket, sid, pid, offset string) {
	t.Helper()
	c = ts.dial(t)
	sid, pid = connectForRecovery(t, c, "{}")
	s = wait(t, sockets)
	_ = ts.To("room").Emit("news", 0)
	_, args := c.expectEvent()
	if args.Decode(args.Len()-1, &offset) != nil || offset == "" {
		t.Fatalf("broadcast args %s: no offset", args)
	}
	return c, s, sid, pid, offset
}

func recoveryTestServer(t *testing.T) (*testServer, <-chan *Socket, *disconnects) {
	t.Helper()
	ts := newTestServer(t, &Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	d := newDisconnects()
	sockets := make(chan *Socket, 64)
	ts.OnConnection(func(s *Socket) {
		d.watch(s)
		if !s.Recovered() {
			s.Join("room")
			s.SetData("kept")
		}
		sockets <- s
	})
	return ts, sockets, d
}

// TestClaimOfAnUnknownSessionStartsAfresh: a pid held by no socket and no
// stored session gives a new session, and leaves the other sockets be; a
// socket's pid with an offset no longer kept ends that socket (its client
// has left it) and starts afresh too.
func TestClaimOfAnUnknownSessionStartsAfresh(t *testing.T) {
	ts, sockets, d := recoveryTestServer(t)
	_, first, sid, pid, offset := sessionWithOffset(t, ts, sockets)

	c2 := ts.dial(t)
	sid2, pid2 := connectForRecovery(t, c2, claimAuth("unknown"+pid, offset))
	s2 := wait(t, sockets)
	if sid2 == sid || pid2 == pid || s2.Recovered() {
		t.Fatalf("an unknown pid gave %q/%q recovered %v", sid2, pid2, s2.Recovered())
	}
	if !first.Connected() || len(d.of(first)) != 0 {
		t.Fatalf("a claim of an unknown pid ended another socket: %v", d.of(first))
	}

	c3 := ts.dial(t)
	sid3, _ := connectForRecovery(t, c3, claimAuth(pid, "not-an-offset"))
	s3 := wait(t, sockets)
	if sid3 == sid || s3.Recovered() {
		t.Fatalf("a claim with an unknown offset recovered the session")
	}
	if r := d.of(first); len(r) != 1 || r[0] != ReasonTransportClose {
		t.Fatalf("the claimed socket's disconnect reasons %v, want transport close", r)
	}
	if !s2.Connected() || !s3.Connected() {
		t.Fatal("the other sockets were ended")
	}
}

// TestTakeOverKeepsTheOldConnectionsOtherNamespaces: a session claimed
// from a connection that has other namespaces ends that socket only.
func TestTakeOverKeepsTheOldConnectionsOtherNamespaces(t *testing.T) {
	ts, sockets, d := recoveryTestServer(t)
	ts.Of("/other")
	c1, first, sid, pid, offset := sessionWithOffset(t, ts, sockets)
	c1.connect("/other", "")
	c2 := ts.dial(t)
	if sid2, _ := connectForRecovery(t, c2, claimAuth(pid, offset)); sid2 != sid {
		t.Fatalf("recovered as %q, want %q", sid2, sid)
	}
	if s := wait(t, sockets); !s.Recovered() {
		t.Fatal("not recovered")
	}
	if len(d.of(first)) != 1 {
		t.Fatalf("old socket's disconnect reasons %v", d.of(first))
	}
	// The old connection still serves /other.
	if err := ts.Of("/other").Emit("still", "here"); err != nil {
		t.Fatal(err)
	}
	if name, _ := c1.expectEvent(); name != "still" {
		t.Fatalf("got %q on the old connection's other namespace", name)
	}
}

// TestRacingClaimsOfOneSession: several connections claim the session of
// a connected socket at once. The old socket leaves once; in the end one
// socket holds the session, in its rooms; the others start afresh or were
// themselves taken over by a later claim.
func TestRacingClaimsOfOneSession(t *testing.T) {
	ts, sockets, d := recoveryTestServer(t)
	for round := range 3 {
		_, first, sid, pid, offset := sessionWithOffset(t, ts, sockets)
		const claimants = 6
		clients := make([]*rawClient, claimants)
		for i := range clients {
			clients[i] = ts.dial(t)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				<-start
				c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/", Data: []byte(claimAuth(pid, offset))})
			})
		}
		close(start)
		wg.Wait()
		got := make([]*Socket, claimants)
		for i := range got {
			got[i] = wait(t, sockets)
		}
		holders := 0
		for _, s := range got {
			switch {
			case s.ID() == sid && s.Connected():
				holders++
				if !s.Recovered() || s.Data() != "kept" || !slices.Contains(s.Rooms(), "room") {
					t.Errorf("round %d: the holder: recovered %v data %v rooms %v", round, s.Recovered(), s.Data(), s.Rooms())
				}
			case s.ID() == sid: // recovered, then claimed by a later one
				if r := d.of(s); len(r) != 1 || r[0] != ReasonTransportClose {
					t.Errorf("round %d: a socket taken over left with %v", round, r)
				}
			case s.Recovered():
				t.Errorf("round %d: socket %q recovered another session", round, s.ID())
			}
		}
		if holders != 1 {
			t.Fatalf("round %d: %d connected sockets hold the session, want 1", round, holders)
		}
		if r := d.of(first); len(r) != 1 || r[0] != ReasonTransportClose {
			t.Fatalf("round %d: the old socket's disconnect reasons %v", round, r)
		}
		held := 0
		for _, s := range ts.Of("/").Sockets() {
			if s.ID() == sid {
				held++
			}
		}
		if held != 1 {
			t.Fatalf("round %d: the namespace has %d sockets with the session's id", round, held)
		}
		for _, c := range clients {
			c.conn.Close()
		}
	}
}

// TestClaimWhileTheOldSocketLeavesByItself: the old socket is leaving on
// its own (its connection closed; its disconnecting handler still runs)
// when the claim comes: the claim waits for its session to be kept, and
// recovers it.
func TestClaimWhileTheOldSocketLeavesByItself(t *testing.T) {
	ts := newTestServer(t, &Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	d := newDisconnects()
	sockets := make(chan *Socket, 4)
	leaving := make(chan DisconnectReason, 1)
	release := make(chan struct{})
	ts.OnConnection(func(s *Socket) {
		d.watch(s)
		if !s.Recovered() {
			s.Join("room")
			s.SetData("kept")
			s.OnDisconnecting(func(_ *Socket, r DisconnectReason) {
				leaving <- r
				<-release
			})
		}
		sockets <- s
	})
	c1, first, sid, pid, offset := sessionWithOffset(t, ts, sockets)
	c1.conn.Close()
	reason := wait(t, leaving)
	c2 := ts.dial(t)
	c2.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/", Data: []byte(claimAuth(pid, offset))})
	select {
	case p := <-c2.packets: // the claim did not wait for the session
		close(release)
		t.Fatalf("got %v %s while the old socket was still leaving", p.Type, p.Data)
	case <-time.After(200 * time.Millisecond): // time for the claim to reach the server
	}
	close(release)
	p := c2.next()
	if p.Type != siopacket.Connect || !strings.Contains(string(p.Data), sid) {
		t.Fatalf("got %v %s, want the session %q back", p.Type, p.Data, sid)
	}
	if s := wait(t, sockets); !s.Recovered() || !slices.Contains(s.Rooms(), "room") {
		t.Fatalf("recovered %v rooms %v", s.Recovered(), s.Rooms())
	}
	if r := d.of(first); len(r) != 1 || r[0] != reason {
		t.Fatalf("the old socket's disconnect reasons %v, want [%s]", r, reason)
	}
}
