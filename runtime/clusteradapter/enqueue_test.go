package clusteradapter_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// queueing is a transport that can enqueue; it records how each message
// was sent.
type queueing struct {
	mu   sync.Mutex
	sent []string
}

func (q *queueing) note(how string, m *clusteradapter.Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, how+" "+m.Type.String())
}

func (q *queueing) Publish(_ context.Context, m *clusteradapter.Message) (string, error) {
	q.note("publish", m)
	return "1-0", nil
}

func (q *queueing) PublishResponse(context.Context, string, *clusteradapter.Message) error {
	return nil
}

func (q *queueing) Enqueue(m *clusteradapter.Message) error {
	q.note("enqueue", m)
	return nil
}

func (q *queueing) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.sent
	q.sent = nil
	return s
}

// An Enqueuer is asked to wait only for what needs its offset: a
// broadcast that connection state recovery keeps, and requests.
func TestEnqueuerWaitsOnlyForOffsets(t *testing.T) {
	for _, recovery := range []bool{false, true} {
		q := &queueing{}
		so := &socketio.Options{Adapter: func(h sioadapter.Host) sioadapter.Adapter {
			return logAdapter{clusteradapter.New(h, q, nil)}
		}}
		if recovery {
			so.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
		}
		srv := socketio.NewServer(so)
		nsp := srv.Of("/")
		_ = nsp.Emit("hello", 1)
		_ = nsp.Volatile().Emit("hello", 2)
		nsp.SocketsJoin("r")
		nsp.In("r").SocketsLeave("r")
		nsp.DisconnectSockets(false)
		_ = nsp.ServerSideEmit(context.Background(), "x")
		broadcast := "enqueue BROADCAST"
		if recovery {
			broadcast = "publish BROADCAST"
		}
		want := []string{broadcast, "enqueue BROADCAST", "enqueue SOCKETS_JOIN", "enqueue SOCKETS_LEAVE", "enqueue DISCONNECT_SOCKETS", "enqueue SERVER_SIDE_EMIT"}
		if got := q.take(); !slices.Equal(got, want) {
			t.Errorf("recovery %v: sent %q, want %q", recovery, got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = nsp.FetchSockets(ctx)
		cancel()
		if got := q.take(); len(got) > 0 && !slices.Equal(got, []string{"publish FETCH_SOCKETS"}) {
			t.Errorf("recovery %v: FetchSockets sent %q", recovery, got)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Close(ctx)
		cancel()
	}
}
