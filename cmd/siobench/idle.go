package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// idle opens many connections and holds them through several heartbeats,
// answering pings; it reports the connect rate and, given -pid, the
// server's resident memory per connection (all its processes together).
func idle(cfg config) (map[string]any, error) {
	raiseFileLimit()
	before := rssKiB(cfg.pids)
	start := time.Now()
	// Each connection answers pings from the moment it is open: dialling
	// many takes longer than a ping interval plus its timeout, and a
	// server would rightly drop the first ones otherwise.
	var wg sync.WaitGroup
	var stopAt atomic.Int64 // the end of the hold (UnixNano), once known
	errs := make(chan error, cfg.clients)
	conns, err := dialAllWith(cfg, cfg.clients, func(c *conn) {
		wg.Go(func() {
			for {
				if _, _, err := c.readText(); err != nil {
					if stop := stopAt.Load(); stop == 0 || time.Now().UnixNano() < stop {
						errs <- err
					}
					return
				}
			}
		})
	})
	if err != nil {
		wg.Wait()
		return nil, err
	}
	connectSec := time.Since(start).Seconds()
	stop := time.Now().Add(cfg.duration)
	stopAt.Store(stop.UnixNano())
	for _, c := range conns {
		_ = c.ws.SetReadDeadline(stop)
	}
	// Sample the server's memory through the hold; report the peak and the
	// last sample, taken once heartbeats have run and the connect burst's
	// garbage has had time to go.
	var after, peak int64
	for time.Until(stop) > 500*time.Millisecond {
		time.Sleep(250 * time.Millisecond)
		after = rssKiB(cfg.pids)
		peak = max(peak, after)
	}
	wg.Wait()
	closeAll(conns)
	close(errs)
	pings := 0
	for _, c := range conns {
		pings += c.pings
	}
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("a connection dropped while idle: %w", err)
	}
	res := map[string]any{
		"connections":        len(conns),
		"connect_per_second": float64(len(conns)) / connectSec,
		"held_sec":           cfg.duration.Seconds(),
		"pings_answered":     pings,
	}
	if len(cfg.pids) > 0 {
		res["server_rss_kib_before"] = before
		res["server_rss_kib_after"] = after
		res["server_rss_kib_peak"] = peak
		res["kib_per_connection"] = float64(after-before) / float64(len(conns))
		res["peak_kib_per_connection"] = float64(peak-before) / float64(len(conns))
	}
	return res, nil
}

// rssKiB is the resident memory of processes pids together.
func rssKiB(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		sum += processRSS(pid)
	}
	return sum
}

func processRSS(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
