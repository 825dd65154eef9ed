package socketio

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// connectForRecovery joins "/" with auth and returns the CONNECT reply.
func connectForRecovery(t *testing.T, c *rawClient, auth string) (sid, pid string) {
	t.Helper()
	c.send(siopacket.Packet{Type: siopacket.Connect, Namespace: "/", Data: []byte(auth)})
	p := c.next()
	var body struct{ SID, PID string }
	if p.Type != siopacket.Connect || json.Unmarshal(p.Data, &body) != nil {
		t.Fatalf("got %v %s", p.Type, p.Data)
	}
	return body.SID, body.PID
}

func TestRecoveryRules(t *testing.T) {
	ts := newTestServer(t, &Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: 300 * time.Millisecond}})
	nsp := ts.Of("/")
	sockets := make(chan *Socket, 4)
	ts.OnConnection(func(s *Socket) {
		if !s.Recovered() {
			s.Join("mine")
			s.SetData("kept")
		}
		sockets <- s
	})

	c := ts.dial(t)
	sid, pid := connectForRecovery(t, c, "{}")
	first := wait(t, sockets)
	if pid == "" || first.Recovered() {
		t.Fatalf("pid %q recovered %v", pid, first.Recovered())
	}
	_ = nsp.To("mine").Emit("news", 0)
	_, args := c.expectEvent()
	var offset string
	if args.Len() != 2 || args.Decode(1, &offset) != nil || offset == "" {
		t.Fatalf("broadcast args %s: the offset must be the last argument", args)
	}

	c.conn.Close() // a loss: the session is kept
	deadline := time.Now().Add(5 * time.Second)
	for first.Connected() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = nsp.To("mine").Emit("news", 1)     // replayed
	_ = nsp.To("theirs").Emit("news", 2)   // not for this socket
	_ = nsp.Volatile().Emit("news", 3)     // volatile: not kept
	_ = nsp.Except("mine").Emit("news", 4) // excluded
	_ = nsp.Emit("news", []byte{5})        // everyone, binary: replayed

	c2 := ts.dial(t)
	sid2, pid2 := connectForRecovery(t, c2, fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, offset))
	if sid2 != sid || pid2 != pid {
		t.Errorf("recovered as %q/%q, want %q/%q", sid2, pid2, sid, pid)
	}
	s2 := wait(t, sockets)
	if !s2.Recovered() || s2.Data() != "kept" || len(s2.Rooms()) != 2 {
		t.Errorf("recovered socket: %v data %v rooms %v", s2.Recovered(), s2.Data(), s2.Rooms())
	}
	if _, a := c2.expectEvent(); a.String()[:2] != "[1" {
		t.Errorf("first missed packet %s", a)
	}
	if _, a := c2.expectEvent(); a.Len() != 2 {
		t.Errorf("second missed packet %s", a)
	} else if b, ok := a.Bytes(0); !ok || b[0] != 5 {
		t.Errorf("binary missed packet %s", a)
	}
	select {
	case p := <-c2.packets:
		t.Errorf("unexpected replay %s", p.Data)
	case <-time.After(100 * time.Millisecond):
	}

	// A claim of a session that a socket holds takes it over (see
	// takeover_test.go); an unknown offset or an expired session gives a
	// new one.
	c3 := ts.dial(t)
	if sid3, _ := connectForRecovery(t, c3, fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, offset)); sid3 != sid {
		t.Error("a claim of a connected socket's session did not take it over")
	}
	wait(t, sockets)
	s3pid := pid2
	c3.conn.Close()
	time.Sleep(400 * time.Millisecond) // past MaxDisconnectionDuration
	_ = nsp.Emit("news", 6)
	c4 := ts.dial(t)
	if sid4, _ := connectForRecovery(t, c4, fmt.Sprintf(`{"pid":%q,"offset":%q}`, s3pid, offset)); sid4 == sid {
		t.Error("an expired session was restored")
	}
	wait(t, sockets)
}

// TestConnectPrecedesBroadcasts: with broadcasts going out all the time,
// a joining client's first packet on the namespace is its CONNECT, never
// an event that overtook it.
func TestConnectPrecedesBroadcasts(t *testing.T) {
	ts := newTestServer(t, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = ts.Emit("tick", i)
		}
	}()
	defer func() { close(stop); <-done }()
	for range 30 {
		c := ts.dial(t)
		c.connect("/", "") // fails the test unless the first packet is CONNECT
		c.conn.Close()
	}
}
