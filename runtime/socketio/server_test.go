package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

func TestConnectAndEvents(t *testing.T) {
	ts := newTestServer(t, nil)
	connected := make(chan *Socket, 1)
	ts.OnConnection(func(s *Socket) {
		s.On("sum", func(s *Socket, args Args, ack Ack) {
			var a, b int
			if err := args.Decode(0, &a); err != nil {
				t.Error(err)
			}
			_ = args.Decode(1, &b)
			_ = ack(a + b)
			if err := ack(0); !errors.Is(err, ErrAcked) {
				t.Errorf("second ack = %v", err)
			}
		})
		connected <- s
	})
	c := ts.dial(t)
	id := c.connect("/", `{"token":"t"}`)
	s := wait(t, connected)
	if s.ID() != id || len(id) < 20 || string(s.Handshake().Auth) != `{"token":"t"}` {
		t.Errorf("socket id %q (client saw %q), auth %s", s.ID(), id, s.Handshake().Auth)
	}
	if got := s.Handshake().Header().Get("X-Client"); got != "raw test client" {
		t.Errorf("handshake header X-Client = %q", got)
	}
	if s.Handshake().Query().Get("EIO") != "4" || s.Handshake().Issued == 0 {
		t.Errorf("handshake %+v", s.Handshake())
	}
	p, _ := eventPacket("/", "sum", []any{2, 3})
	p.ID, p.HasID = 7, true
	c.send(p)
	ack := c.next()
	if ack.Type != siopacket.Ack || ack.ID != 7 || string(ack.Data) != "[5]" {
		t.Errorf("ack = %v %d %s", ack.Type, ack.ID, ack.Data)
	}
	if !slices.Equal(s.Rooms(), []string{id}) {
		t.Errorf("rooms %v, want the socket's own", s.Rooms())
	}
}

func TestEmitBinaryAndAckFromServer(t *testing.T) {
	ts := newTestServer(t, nil)
	connected := make(chan *Socket, 1)
	ts.OnConnection(func(s *Socket) { connected <- s })
	c := ts.dial(t)
	c.connect("/", "")
	s := wait(t, connected)

	type doc struct {
		Name string `json:"name"`
		Blob []byte `json:"blob"`
	}
	results := make(chan Args, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, err := s.EmitWithAck(ctx, "doc", doc{"x", []byte{1, 2}}, []byte{3})
		if err != nil {
			t.Error(err)
		}
		results <- a
	}()
	p := c.next()
	if p.Type != siopacket.BinaryEvent || len(p.Attachments) != 2 || !p.HasID {
		t.Fatalf("got %v with %d attachments", p.Type, len(p.Attachments))
	}
	want := `["doc",{"name":"x","blob":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]`
	if string(p.Data) != want || !bytes.Equal(p.Attachments[0], []byte{1, 2}) || !bytes.Equal(p.Attachments[1], []byte{3}) {
		t.Errorf("packet %s %v", p.Data, p.Attachments)
	}
	reply, _ := siopacket.NewAck("/", p.ID, []any{doc{"y", []byte{9, 9}}})
	c.send(reply)
	a := wait(t, results)
	var d doc
	if err := a.Decode(0, &d); err != nil || d.Name != "y" || !bytes.Equal(d.Blob, []byte{9, 9}) {
		t.Errorf("decoded ack %+v, %v", d, err)
	}

	// No answer: the context ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.EmitWithAck(ctx, "ignored"); !errors.Is(err, ErrAckTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EmitWithAck without an answer = %v", err)
	}
	c.next() // the ignored event
	timedOut := make(chan error, 1)
	_ = s.EmitWithAckFunc("ignored", 30*time.Millisecond, func(_ Args, err error) { timedOut <- err }, 1)
	if err := wait(t, timedOut); !errors.Is(err, ErrAckTimeout) {
		t.Errorf("EmitWithAckFunc = %v", err)
	}
	if err := s.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Errorf("emitting a reserved event = %v", err)
	}
}

func TestDisconnectReasons(t *testing.T) {
	tests := []struct {
		name string
		act  func(c *rawClient, s *Socket, ts *testServer)
		want DisconnectReason
	}{
		{"client namespace disconnect", func(c *rawClient, _ *Socket, _ *testServer) {
			c.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/"})
		}, ReasonClientNamespaceDisconnect},
		{"server namespace disconnect", func(c *rawClient, s *Socket, _ *testServer) {
			s.Disconnect(false)
			if p := c.next(); p.Type != siopacket.Disconnect {
				t.Errorf("client got %v, want DISCONNECT", p.Type)
			}
		}, ReasonServerNamespaceDisconnect},
		{"transport close", func(c *rawClient, _ *Socket, _ *testServer) { c.conn.Close() }, ReasonTransportClose},
		{"parse error", func(c *rawClient, _ *Socket, _ *testServer) { c.sendText(`2["connect"]`) }, ReasonParseError},
		{"server shutting down", func(_ *rawClient, _ *Socket, ts *testServer) {
			_ = ts.Close(context.Background())
		}, ReasonServerShuttingDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, nil)
			connected := make(chan *Socket, 1)
			reasons := make(chan string, 2)
			ts.OnConnection(func(s *Socket) {
				s.Join("room")
				s.OnDisconnecting(func(s *Socket, r DisconnectReason) {
					reasons <- fmt.Sprintf("disconnecting %s rooms=%d", r, len(s.Rooms()))
				})
				s.OnDisconnect(func(s *Socket, r DisconnectReason) {
					reasons <- fmt.Sprintf("disconnect %s rooms=%d", r, len(s.Rooms()))
				})
				connected <- s
			})
			c := ts.dial(t)
			c.connect("/", "")
			s := wait(t, connected)
			tt.act(c, s, ts)
			if got, want := wait(t, reasons), fmt.Sprintf("disconnecting %s rooms=2", tt.want); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if got, want := wait(t, reasons), fmt.Sprintf("disconnect %s rooms=0", tt.want); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if s.Connected() || len(ts.Of("/").Sockets()) != 0 {
				t.Error("socket still registered after disconnect")
			}
		})
	}
}

func TestMiddlewareAndNamespaces(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.Of("/admin").Use(func(s *Socket) error {
		if !strings.Contains(string(s.Handshake().Auth), "secret") {
			return &ConnectError{Message: "forbidden", Data: map[string]int{"code": 42}}
		}
		return nil
	})
	ts.Of("/plain").Use(func(s *Socket) error { s.Join("early"); return nil })
	ts.Of("/plain").Use(func(*Socket) error { return errors.New("plain refusal") })
	c := ts.dial(t)
	c.connect("/", "")
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/admin", Data: []byte(`{}`)})
	if p := c.next(); p.Type != siopacket.ConnectError || string(p.Data) != `{"message":"forbidden","data":{"code":42}}` {
		t.Errorf("admin without secret: %v %s", p.Type, p.Data)
	}
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/plain"})
	if p := c.next(); p.Type != siopacket.ConnectError || string(p.Data) != `{"message":"plain refusal"}` {
		t.Errorf("plain: %v %s", p.Type, p.Data)
	}
	if n := len(ts.Of("/plain").Adapter().Sockets([]string{"early"})); n != 0 {
		t.Errorf("a refused socket stayed in a room its middleware joined (%d)", n)
	}
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/missing"})
	if p := c.next(); p.Type != siopacket.ConnectError || string(p.Data) != `{"message":"Invalid namespace"}` {
		t.Errorf("missing: %v %s", p.Type, p.Data)
	}
	// The same connection then joins /admin properly: multiplexing.
	c.connect("/admin", `{"secret":1}`)
	if n := len(ts.Of("/admin").Sockets()); n != 1 {
		t.Errorf("%d sockets in /admin", n)
	}
}

func TestDynamicNamespaces(t *testing.T) {
	ts := newTestServer(t, nil)
	parent := ts.OfRegexp(regexp.MustCompile(`^/team-\d+$`))
	var mu sync.Mutex
	var joined []string
	parent.Use(func(s *Socket) error {
		if string(s.Handshake().Auth) == `{"deny":true}` {
			return errors.New("denied by parent")
		}
		return nil
	})
	parent.OnConnection(func(s *Socket) {
		mu.Lock()
		joined = append(joined, s.Namespace().Name())
		mu.Unlock()
	})
	c1, c2 := ts.dial(t), ts.dial(t)
	c1.connect("/team-1", "")
	c2.connect("/team-2", "")
	c2.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/team-3", Data: []byte(`{"deny":true}`)})
	if p := c2.next(); p.Type != siopacket.ConnectError {
		t.Errorf("parent middleware did not apply: %v", p.Type)
	}
	c2.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/team-x"})
	if p := c2.next(); p.Type != siopacket.ConnectError {
		t.Errorf("non-matching name accepted: %v", p.Type)
	}
	// A parent broadcast reaches every child namespace.
	if err := parent.Emit("hello", "all teams"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*rawClient{c1, c2} {
		if name, args := c.expectEvent(); name != "hello" || args.String() != `["all teams"]` {
			t.Errorf("got %s %s", name, args)
		}
	}
	mu.Lock()
	slices.Sort(joined)
	if !slices.Equal(joined, []string{"/team-1", "/team-2"}) {
		t.Errorf("parent connection handler saw %v", joined)
	}
	mu.Unlock()
}

func TestRoomsAndServerSideOperations(t *testing.T) {
	ts := newTestServer(t, nil)
	nsp := ts.Of("/")
	events := make(chan string, 100)
	nsp.OnRoomEvent(func(e RoomEvent) {
		if !strings.HasPrefix(e.Room, "r") || len(e.Room) > 2 {
			return // ignore the sockets' own rooms
		}
		events <- e.Kind.String() + " " + e.Room
	})
	sockets := make(chan *Socket, 3)
	ts.OnConnection(func(s *Socket) {
		s.SetData(map[string]string{"n": "x"})
		sockets <- s
	})
	var clients []*rawClient
	byID := map[string]*rawClient{}
	for range 3 {
		c := ts.dial(t)
		id := c.connect("/", "")
		clients = append(clients, c)
		byID[id] = c
		wait(t, sockets)
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range byID {
			if !yield(id) {
				return
			}
		}
	})
	a, b := ids[0], ids[1]
	nsp.To(a, b).SocketsJoin("r1")
	if got := []string{wait(t, events), wait(t, events), wait(t, events)}; !slices.Equal(got, []string{"create-room r1", "join-room r1", "join-room r1"}) {
		t.Errorf("room events %v", got)
	}
	infos, err := nsp.In("r1").FetchSockets(context.Background())
	if err != nil || len(infos) != 2 {
		t.Fatalf("FetchSockets = %v, %v", infos, err)
	}
	for _, info := range infos {
		if !slices.Contains(info.Rooms, "r1") || info.Data.(map[string]string)["n"] != "x" || info.Handshake.Time.IsZero() {
			t.Errorf("info %+v", info)
		}
	}
	// Broadcast to r1 except a: only b.
	_ = nsp.To("r1").Except(a).Emit("only-b")
	if name, _ := byID[b].expectEvent(); name != "only-b" {
		t.Errorf("b got %q", name)
	}
	_ = nsp.Emit("everyone")
	for _, c := range clients {
		if name, _ := c.expectEvent(); name != "everyone" {
			t.Errorf("got %q", name)
		}
	}
	nsp.In("r1").SocketsLeave("r1")
	if got := []string{wait(t, events), wait(t, events), wait(t, events)}; got[2] != "delete-room r1" {
		t.Errorf("room events after leave %v", got)
	}
	nsp.In(a).DisconnectSockets(false)
	if p := byID[a].next(); p.Type != siopacket.Disconnect {
		t.Errorf("a got %v, want DISCONNECT", p.Type)
	}
	if n := len(nsp.Sockets()); n != 2 {
		t.Errorf("%d sockets left, want 2", n)
	}
	if count, _ := nsp.Adapter().ServerCount(context.Background()); count != 1 {
		t.Errorf("ServerCount = %d", count)
	}
}

func TestPacketMiddlewareAnyAndOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	got := make(chan string, 20)
	ts.OnConnection(func(s *Socket) {
		s.Use(func(s *Socket, event string, _ Args) error {
			if event == "blocked" {
				return errors.New("not allowed")
			}
			return nil
		})
		s.OnError(func(_ *Socket, err error) { got <- "error " + err.Error() })
		s.OnAny(func(_ *Socket, event string, args Args) { got <- "any " + event + args.String() })
		s.OnAnyOutgoing(func(_ *Socket, event string, args Args) { got <- "out " + event + args.String() })
		s.Once("one", func(*Socket, Args, Ack) { got <- "once" })
		off := s.On("gone", func(*Socket, Args, Ack) { got <- "gone" })
		off()
		s.On("panic", func(*Socket, Args, Ack) { panic("handler bug") })
		s.OnUnhandled(func(_ *Socket, event string, _ Args, ack Ack) {
			got <- fmt.Sprintf("unhandled %s ack=%v", event, ack != nil)
		})
		_ = s.Emit("hi", 1)
	})
	c := ts.dial(t)
	c.connect("/", "")
	if g := wait(t, got); g != `out hi[1]` {
		t.Errorf("got %q", g)
	}
	c.emit("/", "blocked")
	c.emit("/", "one")
	c.emit("/", "one")
	c.emit("/", "gone")
	c.emit("/", "panic")
	c.emit("/", "end", "x")
	want := []string{"error not allowed", "any one[]", "once", "any one[]", "unhandled one ack=false", "any gone[]", "unhandled gone ack=false", "any panic[]", `any end["x"]`, "unhandled end ack=false"}
	for _, w := range want {
		if g := wait(t, got); g != w {
			t.Errorf("got %q, want %q", g, w)
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	ts := newTestServer(t, &Options{ConnectTimeout: 50 * time.Millisecond})
	c := ts.dial(t)
	if r := wait(t, c.closed); r != "transport close" {
		t.Errorf("closed with %q", r)
	}
}

func TestMalformedInputNeverPanics(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.OnConnection(func(s *Socket) { s.On("x", func(*Socket, Args, Ack) {}) })
	for _, bad := range []string{"", "9", "2{}", `2["connect"]`, `51-["x",{"_placeholder":true,"num":5}]`, `3abc[]`,
		`299999999999999999999["x"]`, "\xff\xfe", `2/x,["x"`, `1{}`} {
		c := ts.dial(t)
		c.connect("/", "")
		c.sendText(bad)
		if r := wait(t, c.closed); r != "transport close" {
			t.Errorf("%q: closed with %q", bad, r)
		}
	}
	// A well-formed CONNECT to an absurd namespace is refused, not fatal.
	c := ts.dial(t)
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/" + strings.Repeat("a", 10000)})
	if p := c.next(); p.Type != siopacket.ConnectError {
		t.Errorf("got %v", p.Type)
	}
	// Binary data with no binary packet pending, and text while one is.
	c = ts.dial(t)
	c.connect("/", "")
	_ = c.conn.Send(engineioBinary([]byte{1}))
	wait(t, c.closed)
	c = ts.dial(t)
	c.connect("/", "")
	c.sendText(`51-["x",{"_placeholder":true,"num":0}]`)
	c.sendText(`2["x"]`)
	wait(t, c.closed)
}

// TestConcurrentChurn has hundreds of goroutines joining, leaving,
// emitting, broadcasting and disconnecting at once, under the race detector.
func TestConcurrentChurn(t *testing.T) {
	ts := newTestServer(t, nil)
	nsp := ts.Of("/")
	ts.OnConnection(func(s *Socket) {
		s.On("churn", func(s *Socket, args Args, ack Ack) {
			var i int
			_ = args.Decode(0, &i)
			room := fmt.Sprintf("room-%d", i%5)
			s.Join(room)
			_ = s.To(room).Emit("hello", i)
			if i%3 == 0 {
				s.Leave(room)
			}
			if ack != nil {
				_ = ack(i)
			}
		})
	})
	const clients = 40
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c := ts.dial(t)
			c.connect("/", "")
			for j := range 10 {
				c.emit("/", "churn", i*10+j)
			}
			if i%4 == 0 {
				c.send(siopacket.Packet{Type: siopacket.Disconnect, Namespace: "/"})
			}
		})
	}
	for g := range 100 {
		wg.Go(func() {
			switch g % 4 {
			case 0:
				_ = nsp.To(fmt.Sprintf("room-%d", g%5)).Emit("broadcast", g)
			case 1:
				nsp.In("room-1").SocketsJoin("extra")
			case 2:
				_, _ = nsp.FetchSockets(context.Background())
			case 3:
				nsp.In("extra").SocketsLeave("extra")
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(nsp.Sockets()); n != 0 {
		t.Errorf("%d sockets left after Close", n)
	}
	if n := len(nsp.Adapter().Sockets(nil)); n != 0 {
		t.Errorf("%d sockets left in the adapter", n)
	}
}

func TestArgs(t *testing.T) {
	p, _ := eventPacket("/", "e", []any{map[string]any{"b": []byte{1, 2}, "n": 1.5}, []byte{3}, "s"})
	_, a, err := siopacket.ParseEvent(&p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3 {
		t.Fatalf("Len %d", a.Len())
	}
	var generic any
	if err := a.Decode(0, &generic); err != nil {
		t.Fatal(err)
	}
	m := generic.(map[string]any)
	if !bytes.Equal(m["b"].([]byte), []byte{1, 2}) || m["n"] != 1.5 {
		t.Errorf("generic %v", m)
	}
	if b, ok := a.Bytes(1); !ok || !bytes.Equal(b, []byte{3}) {
		t.Errorf("Bytes(1) = %v %v", b, ok)
	}
	if _, ok := a.Bytes(2); ok {
		t.Error("Bytes(2) on a string")
	}
	var s string
	if err := a.Decode(2, &s); err != nil || s != "s" {
		t.Errorf("Decode(2) = %q %v", s, err)
	}
	if err := a.Decode(3, &s); !errors.Is(err, ErrNoArg) {
		t.Errorf("Decode(3) = %v", err)
	}
	if string(a.Raw(2)) != `"s"` || a.Raw(9) != nil {
		t.Errorf("Raw")
	}
	var wrong int
	if err := a.Decode(2, &wrong); err == nil {
		t.Error("decoding a string into an int succeeded")
	}
	if _, err := json.Marshal(a.String()); err != nil {
		t.Error(err)
	}
}
