package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pollingConn is one Socket.IO connection over Engine.IO HTTP long-polling,
// used as socket.io-client uses it: a GET is always open to receive, and
// sends are POSTs, one at a time.
type pollingConn struct {
	client  *http.Client
	url     string        // the session's URL, sid included
	packets chan []byte   // received packets other than pings and noops
	postMu  sync.Mutex    // the protocol forbids overlapping POSTs
	done    chan struct{} // closed when the receive loop ends
	err     error         // why it ended; read after done
	pings   atomic.Int64
}

// errSessionClosed ends the receive loop when the server closes the session.
var errSessionClosed = errors.New("siobench: the server closed the polling session")

// dialPolling opens a polling session and connects the main namespace.
func dialPolling(ctx context.Context, client *http.Client, base string) (*pollingConn, error) {
	open, err := pollGet(ctx, client, base+"/socket.io/?EIO=4&transport=polling")
	if err != nil {
		return nil, err
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if len(open) == 0 || open[0] != '0' || json.Unmarshal(open[1:], &hs) != nil || hs.SID == "" {
		return nil, fmt.Errorf("siobench: bad open packet %q", open)
	}
	c := &pollingConn{
		client:  client,
		url:     base + "/socket.io/?EIO=4&transport=polling&sid=" + hs.SID,
		packets: make(chan []byte, 16),
		done:    make(chan struct{}),
	}
	if err := c.post(ctx, []byte("40")); err != nil {
		return nil, err
	}
	go c.receive(ctx)
	for {
		select {
		case p := <-c.packets:
			if bytes.HasPrefix(p, []byte("40")) {
				return c, nil
			}
		case <-c.done:
			return nil, c.err
		}
	}
}

// receive keeps a GET open until the session or ctx ends, answering pings.
func (c *pollingConn) receive(ctx context.Context) {
	defer close(c.done)
	for {
		body, err := pollGet(ctx, c.client, c.url)
		if err != nil {
			c.err = err
			return
		}
		for p := range bytes.SplitSeq(body, []byte{0x1e}) {
			switch {
			case string(p) == "2":
				c.pings.Add(1)
				if err := c.post(ctx, []byte("3")); err != nil {
					c.err = err
					return
				}
			case string(p) == "6":
			case string(p) == "1":
				c.err = errSessionClosed
				return
			default:
				select {
				case c.packets <- p:
				case <-ctx.Done():
					c.err = ctx.Err()
					return
				}
			}
		}
	}
}

// post sends packets in one POST.
func (c *pollingConn) post(ctx context.Context, packets ...[]byte) error {
	c.postMu.Lock()
	defer c.postMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(bytes.Join(packets, []byte{0x1e})))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return fmt.Errorf("siobench: POST answered %d %q", resp.StatusCode, body)
	}
	return nil
}

// close ends the session with a close packet and waits for the receive
// loop, which the server's close (or ctx) ends.
func (c *pollingConn) close(ctx context.Context) {
	_ = c.post(ctx, []byte("1"))
	for {
		select {
		case <-c.packets: // nobody reads them now; don't let the loop block
		case <-c.done:
			return
		}
	}
}

func pollGet(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("siobench: GET answered %d %q", resp.StatusCode, body)
	}
	return body, nil
}

// polling runs the latency scenario over long-polling: each client keeps
// one call in flight, a POST whose ack comes back on the open GET.
func polling(cfg config) (map[string]any, error) {
	// Each client keeps two connections: its open GET and its POST.
	transport := &http.Transport{
		MaxIdleConnsPerHost: 2 * cfg.clients,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: cfg.duration + 60*time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	base := "http" + strings.TrimPrefix(cfg.url, "ws")

	conns := make([]*pollingConn, cfg.clients)
	var firstErr firstError
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := dialPolling(ctx, client, base)
			if err != nil {
				firstErr.set(err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close(ctx)
			}
		}
	}()
	if err := firstErr.get(); err != nil {
		return nil, err
	}

	arg := textRequest(cfg.size).text
	var mu sync.Mutex
	var latencies []time.Duration
	start := time.Now()
	deadline := start.Add(cfg.duration)
	for _, c := range conns {
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			for id := uint64(0); time.Now().Before(deadline); id++ {
				call := fmt.Appendf(nil, `42%d["echo",%s]`, id, arg)
				t0 := time.Now()
				if err := c.post(ctx, call); err != nil {
					firstErr.set(err)
					return
				}
				if err := c.awaitAck(id, arg, deadline.Add(5*time.Second)); err != nil {
					firstErr.set(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	slices.Sort(latencies)
	return map[string]any{
		"transport":   "polling",
		"calls":       len(latencies),
		"per_second":  float64(len(latencies)) / elapsed.Seconds(),
		"clients":     cfg.clients,
		"in_flight":   1,
		"elapsed_sec": elapsed.Seconds(),
		"p50_us":      float64(percentile(latencies, 0.50).Microseconds()),
		"p99_us":      float64(percentile(latencies, 0.99).Microseconds()),
		"p999_us":     float64(percentile(latencies, 0.999).Microseconds()),
	}, nil
}

// awaitAck waits for the ack of call id and checks that it carries arg.
func (c *pollingConn) awaitAck(id uint64, arg []byte, until time.Time) error {
	want := fmt.Appendf(nil, "43%d[%s]", id, arg)
	timeout := time.NewTimer(time.Until(until))
	defer timeout.Stop()
	for {
		select {
		case p := <-c.packets:
			if bytes.Equal(p, want) {
				return nil
			}
			if bytes.HasPrefix(p, []byte("43")) {
				return fmt.Errorf("%w: %q, want %q", errBadReply, p, want)
			}
			// Anything else (an event) is not part of this scenario; skip it.
		case <-c.done:
			return fmt.Errorf("siobench: ack %d never came: %w", id, c.err)
		case <-timeout.C:
			return fmt.Errorf("siobench: ack %d never came", id)
		}
	}
}
