package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// JoinFromAuth puts each socket in the room its auth names, and makes
// {"room": <room>} its data. It does so in middleware, which runs before
// the client is told it is connected, so the room is visible cluster-wide
// by the time the client acts.
func JoinFromAuth(srv *socketio.Server) {
	srv.Use(func(s *socketio.Socket) error {
		var auth struct {
			Room string `json:"room"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Room != "" {
			s.Join(auth.Room)
		}
		s.SetData(map[string]string{"room": auth.Room})
		return nil
	})
}

// Dial connects a WebSocket client to n's main namespace, with room in
// its auth; it is closed when the test ends.
func Dial(t *testing.T, n *Node, room string) *sioclient.Socket {
	t.Helper()
	return connect(t, n.URL, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, &sioclient.SocketOptions{Auth: map[string]string{"room": room}})
}

// DialNamespace connects a client to namespace nsp of n; it is closed
// when the test ends.
func DialNamespace(t *testing.T, n *Node, nsp string) *sioclient.Socket {
	t.Helper()
	return connect(t, n.URL+nsp, nil, nil)
}

func connect(t *testing.T, url string, o *sioclient.Options, so *sioclient.SocketOptions) *sioclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sioclient.Connect(ctx, url, o, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return s
}

// Collect records each event's arguments (a binary first argument as its
// bytes, or, past 8 of them, as its length and first bytes), and acks
// with the socket's id.
func Collect(s *sioclient.Socket, event string) chan string {
	ch := make(chan string, 4096)
	s.On(event, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		if b, ok := args.Bytes(0); ok {
			if len(b) > 8 {
				ch <- fmt.Sprintf("%d bytes %v", len(b), b[:4])
			} else {
				ch <- fmt.Sprint(b)
			}
		} else {
			ch <- args.String()
		}
		if ack != nil {
			_ = ack(s.ID())
		}
	})
	return ch
}

// Expect fails t unless the next thing on ch, within 5s, is want.
func Expect(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			if len(got) > 200 {
				got = got[:200] + "…"
			}
			t.Errorf("got %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received, want %s", want)
	}
}

// ExpectNothing fails t if anything arrives on one of chs within 300ms.
func ExpectNothing(t *testing.T, chs ...chan string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	for _, ch := range chs {
		select {
		case got := <-ch:
			t.Errorf("unexpected %s", got)
		default:
		}
	}
}

// WatchDisconnect returns a channel that receives the reason s is
// disconnected for.
func WatchDisconnect(s *sioclient.Socket) chan sioclient.Reason {
	gone := make(chan sioclient.Reason, 1)
	s.OnDisconnect(func(_ *sioclient.Socket, r sioclient.Reason) { gone <- r })
	return gone
}

// ExpectServerDisconnect fails t unless what (watched by WatchDisconnect)
// is disconnected by the server within 5s.
func ExpectServerDisconnect(t *testing.T, gone chan sioclient.Reason, what string) {
	t.Helper()
	select {
	case r := <-gone:
		if r != sioclient.ReasonServerDisconnect {
			t.Errorf("%s: reason %q", what, r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not disconnected", what)
	}
}

// WaitFor fails t unless cond holds within 10s.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, 10*time.Second, what, cond)
}

// WaitWithin fails t unless cond holds within d.
func WaitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ServerCount returns how many nodes n's main namespace counts (0 on an
// error).
func ServerCount(n *Node) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, _ := n.Srv.Of("/").Adapter().ServerCount(ctx)
	return c
}

// Ticks records the numbers of the "tick" events a client receives.
type Ticks struct {
	mu  sync.Mutex
	got []int
}

// CollectTicks records s's ticks.
func CollectTicks(s *sioclient.Socket) *Ticks {
	tk := &Ticks{}
	s.On("tick", func(_ *sioclient.Socket, args sioclient.Args, _ sioclient.Ack) {
		var n int
		_ = args.Decode(0, &n)
		tk.mu.Lock()
		tk.got = append(tk.got, n)
		tk.mu.Unlock()
	})
	return tk
}

// List returns the ticks received so far, in order.
func (tk *Ticks) List() []int {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return slices.Clone(tk.got)
}

// Last returns the last tick received, or 0.
func (tk *Ticks) Last() int {
	l := tk.List()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// Ticker broadcasts "tick" 1, 2, 3… from a node at a steady rate until
// ended, and remembers when it sent each.
type Ticker struct {
	mu     sync.Mutex
	sentAt []time.Time // sentAt[i] is when tick i+1 was sent
	stop   chan struct{}
	done   sync.WaitGroup
}

// StartTicker starts broadcasting from n every interval.
func StartTicker(n *Node, every time.Duration) *Ticker {
	tk := &Ticker{stop: make(chan struct{})}
	tk.done.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-tk.stop:
				return
			case <-t.C:
			}
			tk.mu.Lock()
			tk.sentAt = append(tk.sentAt, time.Now())
			i := len(tk.sentAt)
			tk.mu.Unlock()
			_ = n.Srv.Emit("tick", i)
		}
	})
	return tk
}

// End stops the ticker and returns when each tick was sent.
func (tk *Ticker) End() []time.Time {
	close(tk.stop)
	tk.done.Wait()
	return tk.sentAt
}

// SortedFirsts returns the first argument (a string) of each ack, sorted;
// empty, not nil, for none, since it may be sent as JSON.
func SortedFirsts(acks []socketio.Args) []string {
	out := []string{}
	for _, a := range acks {
		var s string
		_ = a.Decode(0, &s)
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// IDsOf returns the sockets' ids, sorted.
func IDsOf(sockets ...*sioclient.Socket) []string {
	var out []string
	for _, s := range sockets {
		out = append(out, s.ID())
	}
	slices.Sort(out)
	return out
}
