package socketio

import (
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// TestOfficialClientRecoversFromAHalfOpenConnection: the official client's
// connection is left half-open (the server would notice only at its ping
// timeout), broadcasts go out, and the client, back at once, recovers its
// id and the broadcasts; the old socket left as a lost connection. (Over
// polling the client also posts a close for the old session as it leaves,
// on a connection of its own, which races its claim.)
func TestOfficialClientRecoversFromAHalfOpenConnection(t *testing.T) {
	nodepeer.Require(t)
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			url := halfOpenInteropServer(t)
			nodepeer.Run(t, 30*time.Second, "sio_recovery_halfopen.mjs", url, mode)
		})
	}
}

// halfOpenInteropServer is the server side of sio_recovery_halfopen.mjs,
// behind a proxy it can strand; it returns the proxy's URL.
func halfOpenInteropServer(t *testing.T) string {
	// The default heartbeat: 45 s before the server sees a loss itself.
	srv := NewServer(&Options{ConnectionStateRecovery: &RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	hs := siotest.Serve(t, srv, srv)
	proxy := siotest.StartProxy(t, hs.Listener.Addr().String())
	var mu sync.Mutex
	left := map[string][]string{} // socket id: how its sockets left
	nsp := srv.Of("/")
	srv.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(s *Socket, r DisconnectReason) {
			mu.Lock()
			left[s.ID()] = append(left[s.ID()], string(r))
			mu.Unlock()
		})
		s.On("join", func(s *Socket, args Args, ack Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			_ = ack()
		})
		s.On("news-now", func(s *Socket, args Args, ack Ack) {
			var room string
			var n int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &n)
			for i := range n {
				_ = nsp.To(room).Emit("news", i)
			}
			_ = ack()
		})
		s.On("strand-and-broadcast", func(s *Socket, args Args, _ Ack) {
			var room string
			var from, n int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &from)
			_ = args.Decode(2, &n)
			proxy.Strand()
			for i := from; i < from+n; i++ {
				_ = nsp.To(room).Emit("news", i)
			}
		})
		s.On("left", func(s *Socket, args Args, ack Ack) {
			var id string
			_ = args.Decode(0, &id)
			mu.Lock()
			reasons := append([]string{}, left[id]...)
			mu.Unlock()
			_ = ack(reasons)
		})
	})
	return "http://" + proxy.Addr()
}
