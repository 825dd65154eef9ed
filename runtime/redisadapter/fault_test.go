package redisadapter

import (
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
)

// Redis killed and started again under two nodes: local delivery goes on
// meanwhile, and cross-node delivery resumes by itself.
func TestFaultRedisGoesAwayAndComesBack(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		a, b := startNode(t, r, kind, nil), startNode(t, r, kind, nil)
		a1, b1 := adaptertest.Dial(t, a.Node, "r"), adaptertest.Dial(t, b.Node, "r")
		ca1, cb1 := adaptertest.Collect(a1, "hello"), adaptertest.Collect(b1, "hello")
		r.Stop()
		// Local delivery goes on without Redis.
		if err := a.Srv.To("r").Emit("hello", "while down"); err != nil {
			t.Fatal(err)
		}
		adaptertest.Expect(t, ca1, `["while down"]`)
		adaptertest.ExpectNothing(t, cb1)
		r.Start(t)
		// The subscriptions come back; what was queued meanwhile goes out
		// first, then cross-node delivery resumes.
		adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
		_ = a.Srv.To("r").Emit("hello", "back")
		adaptertest.Expect(t, ca1, `["back"]`)
		// "while down" comes first if b had resubscribed when the queue
		// resumed (see TestOutageQueuesWithoutBlocking).
		got := <-waitMessage(t, cb1)
		if got == `["while down"]` {
			got = <-waitMessage(t, cb1)
		}
		if got != `["back"]` {
			t.Errorf("got %s, want [\"back\"]", got)
		}
	})
}

// waitMessage returns a channel with the next message of ch, or fails the
// test after 5s.
func waitMessage(t *testing.T, ch chan string) chan string {
	t.Helper()
	out := make(chan string, 1)
	select {
	case m := <-ch:
		out <- m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	return out
}
