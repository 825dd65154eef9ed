package postgresadapter

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
)

// A listening connection that goes silent (the network drops everything,
// nothing closes) is noticed by its ping once it has been quiet for the
// heartbeat timeout, and replaced once the network passes traffic again.
func TestSilentListenerIsReplaced(t *testing.T) {
	pg := siotest.StartPostgres(t)
	proxy := siotest.StartProxy(t, "127.0.0.1:"+pg.Port)
	opts := &Options{RequestsTimeout: time.Second, HeartbeatInterval: 300 * time.Millisecond, HeartbeatTimeout: time.Second}
	logs := &siotest.SyncBuffer{}
	a := startNode(t, pg, nodeOptions{adapter: opts})
	_, port, _ := net.SplitHostPort(proxy.Addr())
	b := startNode(t, pg, nodeOptions{adapter: opts, logs: logs, port: port})
	// The pool's connections that were frozen carry a broken stream,
	// which pgxpool's Close waits on for seconds: reset them first.
	t.Cleanup(proxy.Cut)
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	_ = a.Srv.Emit("hello", "before")
	adaptertest.Expect(t, got, `["before"]`)

	proxy.Freeze()
	frozen := time.Now()
	adaptertest.WaitWithin(t, 5*time.Second, "the silent listener to be noticed", func() bool {
		return strings.Contains(logs.String(), "the listening connection failed")
	})
	noticed := time.Since(frozen)
	proxy.Thaw()
	thawed := time.Now()
	adaptertest.WaitFor(t, "broadcasts to b again", func() bool {
		_ = a.Srv.Emit("hello", "again")
		select {
		case <-got:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	t.Logf("the silent listener was noticed %v after the freeze; b heard a again %v after the thaw",
		noticed.Round(10*time.Millisecond), time.Since(thawed).Round(10*time.Millisecond))
}

// The attachment table keeps a message for about its cleanup interval:
// every node deletes the rows older than that, every interval.
func TestAttachmentsAreCleanedUp(t *testing.T) {
	pg := siotest.StartPostgres(t)
	a := startNode(t, pg, nodeOptions{adapter: &Options{CleanupInterval: 500 * time.Millisecond}})
	b := startNode(t, pg, nodeOptions{})
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	_ = a.Srv.Emit("hello", []byte{1, 2, 3})
	adaptertest.Expect(t, got, `[1 2 3]`)
	if n := attachments(t, a); n != 1 {
		t.Fatalf("%d attachment rows, want 1", n)
	}
	start := time.Now()
	adaptertest.WaitWithin(t, 3*time.Second, "the cleanup", func() bool { return attachments(t, a) == 0 })
	t.Logf("the row was deleted %v after delivery", time.Since(start).Round(10*time.Millisecond))
	var exists bool
	if err := a.pool.QueryRow(context.Background(), "SELECT to_regclass('socket_io_attachments') IS NOT NULL").Scan(&exists); err != nil || !exists {
		t.Errorf("the table is gone: %v, %v", exists, err)
	}
}

// A node started while PostgreSQL is down serves its own clients, and
// joins the cluster by itself once PostgreSQL is up.
func TestNodeStartedBeforePostgres(t *testing.T) {
	pg := siotest.StartPostgres(t)
	pg.Stop()
	start := time.Now()
	b := startNode(t, pg, nodeOptions{})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("starting a node without PostgreSQL took %v", d)
	}
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	_ = b.Srv.Emit("hello", "local")
	adaptertest.Expect(t, got, `["local"]`)
	pg.Start(t)
	a := startNode(t, pg, nodeOptions{})
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 && adaptertest.ServerCount(b.Node) == 2 })
	_ = a.Srv.Emit("hello", "from a")
	adaptertest.Expect(t, got, `["from a"]`)
}
