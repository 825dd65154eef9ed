package postgresadapter

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
)

// How long a broadcast takes from one Go node to a client of another: a
// small one as a NOTIFY, a 1 MiB one through the attachment table, and a
// burst of small ones. It checks only that everything arrives; the
// figures are logged.
func TestCrossNodeLatency(t *testing.T) {
	pg := siotest.StartPostgres(t)
	a, b := startNode(t, pg, nodeOptions{}), startNode(t, pg, nodeOptions{})
	onB := adaptertest.Dial(t, b.Node, "r")
	got := adaptertest.Collect(onB, "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	timeOne := func(arg any) time.Duration {
		start := time.Now()
		_ = a.Srv.Emit("hello", arg)
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a broadcast did not arrive")
		}
		return time.Since(start)
	}
	percentiles := func(d []time.Duration) (time.Duration, time.Duration) {
		slices.Sort(d)
		return d[len(d)/2], d[len(d)*99/100]
	}
	var small []time.Duration
	for range 200 {
		small = append(small, timeOne("hi"))
	}
	big := bytes.Repeat([]byte{1}, 1<<20)
	var large []time.Duration
	for range 5 {
		large = append(large, timeOne(big))
	}
	const burst = 1000
	start := time.Now()
	for range burst {
		_ = a.Srv.Emit("hello", "burst")
	}
	for range burst {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("a burst broadcast did not arrive")
		}
	}
	took := time.Since(start)
	p50, p99 := percentiles(small)
	l50, _ := percentiles(large)
	t.Logf("small broadcast to another node's client: p50 %v, p99 %v; 1 MiB binary: p50 %v; %d in a burst: %v (%.0f/s)",
		p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), l50.Round(100*time.Microsecond), burst, took.Round(time.Millisecond), burst/took.Seconds())
}
