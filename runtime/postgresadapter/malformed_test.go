package postgresadapter

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
)

// Bad notifications and bad attachment rows are dropped (and logged); the
// node goes on, and what follows them arrives.
func TestMalformedInputIsDropped(t *testing.T) {
	pg := siotest.StartPostgres(t)
	logs := &siotest.SyncBuffer{}
	a, b := startNode(t, pg, nodeOptions{}), startNode(t, pg, nodeOptions{logs: logs})
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	ctx := context.Background()
	row := func(payload []byte) string {
		var id string
		if err := a.pool.QueryRow(ctx, "INSERT INTO socket_io_attachments (payload) VALUES ($1) RETURNING id::text", payload).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	mp := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// As node a: a made-up uid would count as a node until the heartbeat
	// timeout, as it does for the reference.
	uid := a.Srv.Of("/").Adapter().(*Adapter).UID()
	deep := bytes.Repeat([]byte{0x91}, 100_000) // [[[[…
	opts := `"opts":{"rooms":[],"except":[]}`
	bad := []string{
		"garbage",
		`{"uid":"` + uid + `","nsp":"/","type":"three"}`,
		`{"uid":"` + uid + `","nsp":"/","type":3}`,
		`{"uid":"` + uid + `","nsp":"/","type":3,"data":"{not json"}`,
		`{"uid":"` + uid + `","nsp":"/","type":3,"data":{"packet":{"type":2,"data":"not an array"},` + opts + `}}`,
		`{"uid":"` + uid + `","nsp":"/","type":3,"data":{"packet":{"type":2,"data":[]},` + opts + `}}`,
		`{"uid":"` + uid + `","nsp":"/","type":3,"data":{"packet":{"type":2,"data":[42]},` + opts + `}}`,
		`{"uid":"` + uid + `","nsp":"/","type":3,"data":{"packet":{"type":3,"data":["hello"]},` + opts + `}}`,
		`{"uid":"` + uid + `","nsp":"/","type":4,"data":{"opts":{"rooms":5}}}`,
		`{"uid":"` + uid + `","nsp":"/","type":6,"data":{"close":true}}`,
		`{"uid":"` + uid + `","nsp":"/","type":8,"data":{"requestId":5}}`,
		`{"uid":"` + uid + `","nsp":"/","type":999,"data":{}}`,
		`{"uid":"` + uid + `","type":3,"data":{}}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"-1"}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"999999"}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":{}}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"` + row([]byte{0xc1, 0xc1}) + `"}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"` + row(deep) + `"}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":` + row(mp(map[string]any{"uid": uid, "nsp": "/", "type": "seven"})) + `}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"` + row(mp(map[string]any{"uid": uid, "nsp": "/", "type": 3, "data": map[string]any{"packet": "bad"}})) + `"}`,
		`{"uid":"` + uid + `","type":3,"attachmentId":"` + row(mp(map[string]any{"uid": uid, "type": 3})) + `"}`,
	}
	for _, payload := range bad {
		if _, err := a.pool.Exec(ctx, "SELECT pg_notify($1, $2)", "socket.io#/", payload); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Srv.Emit("hello", "valid")
	adaptertest.Expect(t, got, `["valid"]`)
	adaptertest.ExpectNothing(t, got)
	if !onB.Connected() {
		t.Error("a malformed notification disconnected the client")
	}
	if n := adaptertest.ServerCount(b.Node); n != 2 {
		t.Errorf("b counts %d nodes", n)
	}
	if n := strings.Count(logs.String(), "notification dropped"); n < 8 {
		t.Errorf("%d notifications logged as dropped, want at least 8:\n%s", n, logs.String())
	}
}

// A server-side emit handler that panics, on the listening goroutine, is
// logged; the listener goes on, and what follows arrives.
func TestPanickingHandlerDoesNotStopTheListener(t *testing.T) {
	pg := siotest.StartPostgres(t)
	logs := &siotest.SyncBuffer{}
	a := startNode(t, pg, nodeOptions{})
	b := startNode(t, pg, nodeOptions{logs: logs, setup: func(srv *socketio.Server) {
		srv.Of("/").OnServerSideEmit("boom", func(socketio.Args, socketio.Ack) { panic("boom") })
	}})
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	if err := a.Srv.Of("/").ServerSideEmit(context.Background(), "boom"); err != nil {
		t.Fatal(err)
	}
	_ = a.Srv.Emit("hello", "after")
	adaptertest.Expect(t, got, `["after"]`)
	if !strings.Contains(logs.String(), "a handler panicked") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
}
