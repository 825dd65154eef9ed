package attack

import (
	"testing"
	"time"
)

// TestUnpolledHandshakes opens polling sessions that are never polled.
// Each must end within a second of pingInterval + pingTimeout. The
// connect timeout is set just below that, as the defaults (45 s each)
// make it race the heartbeat: a session it closed used to wait the
// 30 s polling close timeout for a GET that never comes.
func TestUnpolledHandshakes(t *testing.T) {
	n := pick(1000, 10000)
	pingInterval, pingTimeout := pick(2*time.Second, 25*time.Second), pick(1*time.Second, 20*time.Second)
	connectTimeout := pingInterval + pingTimeout - pingTimeout/4
	tg := startTarget(t, "-ping-interval", pingInterval.String(), "-ping-timeout", pingTimeout.String(),
		"-connect-timeout", connectTimeout.String())

	var firstEnd time.Time
	for i := range n {
		if _, err := handshake(tg.URL(), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstEnd = time.Now()
		}
	}
	lastOpen := time.Now()
	t.Logf("%d handshakes in %v", n, lastOpen.Sub(firstEnd))
	limit := pingInterval + pingTimeout + time.Second
	tg.waitStats(t, limit+5*time.Second+lastOpen.Sub(firstEnd), func(s stats) bool { return s.Sessions == 0 })
	late := time.Since(lastOpen)
	figure(t, "last unpolled session ended after", late.Seconds(), "s", limit.Seconds())
	if late > limit {
		t.Fatalf("the last unpolled session ended %v after its handshake, limit %v", late, limit)
	}
}
