package attack

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
)

// slowClient opens a raw TCP connection to addr and writes head at once,
// then one byte of trickle every interval until stop is closed or the
// server closes the connection.
func slowClient(addr, head, trickle string, interval time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(head)); err != nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte{trickle[i%len(trickle)]}); err != nil {
			return
		}
	}
}

// TestSlowloris holds more connections than the target has descriptors,
// each sending its headers one byte at a time, and measures how long a
// normal client then waits for its handshake. The header timeout closes
// the slow connections; the accept loop backs off while descriptors are
// exhausted and picks the normal client up once they are freed.
func TestSlowloris(t *testing.T) {
	nofile := pick(300, 1500)
	tg := startTarget(t, "-nofile", strconv.Itoa(nofile))
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	head := "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	for range nofile + 100 {
		wg.Add(1)
		go slowClient(tg.Addr, head, "X-Slow: a\r\n", time.Second, stop, &wg)
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(2 * time.Second) // let the attack take every descriptor

	limit := engineio.HTTPReadHeaderTimeout + 5*time.Second
	start := time.Now()
	var err error
	for time.Since(start) < limit {
		if _, err = handshake(tg.URL(), limit); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	figure(t, "slowloris handshake wait", took.Seconds(), "s", limit.Seconds())
	if err != nil {
		t.Fatalf("no handshake during slowloris within %v: %v", limit, err)
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close
	after := tg.waitStats(t, 2*limit, func(s stats) bool { return s.FDs <= before.FDs+10 })
	figure(t, "slowloris fds after", float64(after.FDs), "fds", float64(before.FDs+10))
}

// TestSlowBodies sends long-polling POST bodies one byte a second to live
// sessions. Each body must be cut off at the POST's read deadline
// (pingTimeout), and the target's goroutines and descriptors must come
// back down.
func TestSlowBodies(t *testing.T) {
	n := pick(100, 200)
	pingInterval, pingTimeout := pick(2*time.Second, 25*time.Second), pick(2*time.Second, 20*time.Second)
	tg := startTarget(t, "-ping-interval", pingInterval.String(), "-ping-timeout", pingTimeout.String())
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })

	stop := make(chan struct{})
	defer close(stop)
	var wg sync.WaitGroup
	for range n {
		sid, err := handshake(tg.URL(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", sid)
		wg.Add(1)
		go slowClient(tg.Addr, head, "4hello\x1e", time.Second, stop, &wg)
	}
	start := time.Now()
	peak := tg.waitStats(t, 10*time.Second, func(s stats) bool { return s.FDs >= before.FDs+n/2 })
	t.Logf("during the attack: %+v (before %+v)", peak, before)
	limit := pingInterval + pingTimeout + 5*time.Second
	after := tg.waitStats(t, 2*limit, func(s stats) bool {
		return s.FDs <= before.FDs+10 && s.Goroutines <= before.Goroutines+10
	})
	took := time.Since(start)
	figure(t, "slow bodies released after", took.Seconds(), "s", limit.Seconds())
	figure(t, "slow bodies goroutines after", float64(after.Goroutines), "goroutines", float64(before.Goroutines+10))
	if took > limit {
		t.Fatalf("slow bodies held for %v, limit %v", took, limit)
	}
}

// TestIdleKeepAlive opens keep-alive connections that each make one
// request and then stay idle. The idle timeout must close them all and
// the target's descriptors and goroutines come back down. It takes about
// engineio.HTTPIdleTimeout.
func TestIdleKeepAlive(t *testing.T) {
	n := pick(200, 500)
	tg := startTarget(t)
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	req := "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	for range n {
		c, err := net.DialTimeout("tcp", tg.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		// Read the answer (an unsupported-version error) so the server
		// sees a finished request on a connection kept alive.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 512)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	peak := tg.waitStats(t, 10*time.Second, func(s stats) bool { return s.FDs >= before.FDs+n/2 })
	t.Logf("while idle: %+v (before %+v)", peak, before)
	limit := engineio.HTTPIdleTimeout + 5*time.Second
	after := tg.waitStats(t, 2*limit, func(s stats) bool {
		return s.FDs <= before.FDs+10 && s.Goroutines <= before.Goroutines+10
	})
	took := time.Since(start)
	figure(t, "idle keep-alive connections closed after", took.Seconds(), "s", limit.Seconds())
	figure(t, "idle keep-alive fds after", float64(after.FDs), "fds", float64(before.FDs+10))
	if took > limit {
		t.Fatalf("idle connections held for %v, limit %v", took, limit)
	}
}
