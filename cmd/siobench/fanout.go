package main

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fanout: receivers join a room; a publisher keeps up to inflight
// broadcasts outstanding (acked by the server once queued); every receiver
// must get every message, in order. Latency is from the timestamp each
// message carries to its arrival.
func fanout(cfg config) (map[string]any, error) {
	receivers, err := dialAll(cfg, cfg.clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(receivers)
	join := &request{event: "join", text: []byte(`"fan"`), wantArg: []byte{}}
	for _, c := range receivers {
		if err := c.send(join, 0); err != nil {
			return nil, err
		}
		if _, err := c.recvEmptyAck(); err != nil {
			return nil, err
		}
	}
	pub, err := dial(cfg.url, false, cfg.clients, "/")
	if err != nil {
		return nil, err
	}
	defer pub.close()

	var delivered atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr atomic.Value
	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range receivers {
		wg.Go(func() {
			want := int64(0)
			var mine []time.Duration
			for {
				_, msg, err := c.readText()
				if err != nil {
					select {
					case <-stop:
					default:
						firstErr.CompareAndSwap(nil, err)
					}
					break
				}
				n, sentAt, ok := parseMsg(msg)
				if !ok || n != want {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%w: got message %d (%q), want %d", errBadReply, n, msg, want))
					break
				}
				want++
				delivered.Add(1)
				if n%16 == 0 {
					mine = append(mine, time.Duration(time.Now().UnixNano()-sentAt))
				}
				if want == published.Load() {
					select {
					case <-stop:
						mu.Lock()
						latencies = append(latencies, mine...)
						mu.Unlock()
						return
					default:
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}

	start := time.Now()
	deadline := start.Add(cfg.duration)
	outstanding := 0
	var n int64
	for time.Now().Before(deadline) || outstanding > 0 {
		for outstanding < cfg.inflight && time.Now().Before(deadline) {
			body := []byte(`42` + strconv.FormatInt(n, 10) + `["fanout","fan",{"n":` + strconv.FormatInt(n, 10) + `,"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}]`)
			if err := pub.ws.WriteMessage(1, body); err != nil {
				return nil, err
			}
			n++
			published.Store(n)
			outstanding++
		}
		_ = pub.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := pub.recvEmptyAck(); err != nil {
			return nil, err
		}
		outstanding--
	}
	publishTime := time.Since(start)
	// Wait (bounded) for the last deliveries.
	want := n * int64(cfg.clients)
	for wait := time.Now().Add(10 * time.Second); delivered.Load() < want && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	close(stop)
	closeAll(receivers)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	if got := delivered.Load(); got != want {
		return nil, fmt.Errorf("%w: %d of %d messages delivered", errBadReply, got, want)
	}
	slices.Sort(latencies)
	return map[string]any{
		"published":   n,
		"receivers":   cfg.clients,
		"delivered":   want,
		"per_second":  float64(want) / elapsed.Seconds(),
		"publish_sec": publishTime.Seconds(),
		"p50_us":      float64(percentile(latencies, 0.5).Microseconds()),
		"p99_us":      float64(percentile(latencies, 0.99).Microseconds()),
	}, nil
}

// recvEmptyAck reads an ack (any id) with no arguments.
func (c *conn) recvEmptyAck() (uint64, error) {
	_, msg, err := c.readText()
	if err != nil {
		return 0, err
	}
	rest, ok := bytes.CutPrefix(msg, []byte("43"))
	if !ok {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	id, rest := leadingUint(rest)
	if string(rest) != "[]" {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	return id, nil
}

// parseMsg reads 42["msg",{"n":N,"t":T}].
func parseMsg(msg []byte) (n, t int64, ok bool) {
	rest, ok := bytes.CutPrefix(msg, []byte(`42["msg",{"n":`))
	if !ok {
		return 0, 0, false
	}
	n64, rest := leadingUint(rest)
	rest, ok = bytes.CutPrefix(rest, []byte(`,"t":`))
	if !ok {
		return 0, 0, false
	}
	t64, rest := leadingUint(rest)
	return int64(n64), int64(t64), string(rest) == "}]"
}
