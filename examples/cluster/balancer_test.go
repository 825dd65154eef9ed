package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// balancer is a load balancer in front of the nodes: its address, and its
// access log, one line per request: remote node-address status "request".
type balancer struct {
	addr string
	log  func() []string
}

// TestBehindNginx runs three chat nodes on one Redis behind a real nginx
// with the repository's nginx.conf (stickiness by the client's address);
// see testBehindBalancer.
func TestBehindNginx(t *testing.T) {
	testBehindBalancer(t, false, func(addrs []string) balancer {
		ngx := siotest.StartNginx(t, "nginx.conf", addrs)
		return balancer{ngx.Addr, func() []string { return ngx.AccessLog(t) }}
	})
}

// TestBehindHAProxy: the same behind a real HAProxy with the repository's
// haproxy.cfg (stickiness by a cookie HAProxy inserts, which the clients
// keep).
func TestBehindHAProxy(t *testing.T) {
	testBehindBalancer(t, true, func(addrs []string) balancer {
		h := siotest.StartHAProxy(t, "haproxy.cfg", addrs)
		return balancer{h.Addr, h.Log}
	})
}

// testBehindBalancer runs three chat nodes on one Redis behind a real
// balancer and the official client from six loopback addresses
// (lb_clients.ts, keeping cookies if asked): long-polling-only clients
// work only if every request of a session reaches the node that opened
// it, upgrading ones only if the balancer passes the WebSocket upgrade on;
// a message reaches the clients of every node; a node is killed during the
// traffic and its clients go on through the others, their sessions
// resumed.
func testBehindBalancer(t *testing.T, cookies bool, start func(addrs []string) balancer) {
	nodepeer.Require(t)
	r := siotest.StartRedis(t)
	bin := siotest.BuildProgram(t, "./examples/cluster")
	var addrs []string
	nodes := map[string]*siotest.Process{}
	for range 3 {
		p := siotest.StartProcess(t, bin, "-redis", r.Addr())
		addrs = append(addrs, p.Addr)
		nodes[p.Addr] = p
	}
	lb := start(addrs)

	var mu sync.Mutex
	killed, linesAtKill := "", 0
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/kill" {
			http.NotFound(w, req)
			return
		}
		// The node with the most clients goes, abruptly.
		lines := lb.log()
		count := map[string]int{}
		for _, ups := range upstreamsByClient(lines) {
			for up := range ups {
				count[up]++
			}
		}
		victim := ""
		for up, n := range count {
			if victim == "" || n > count[victim] {
				victim = up
			}
		}
		mu.Lock()
		killed, linesAtKill = victim, len(lines)
		mu.Unlock()
		nodes[victim].Kill()
	}))
	defer control.Close()

	args := []string{"http://" + lb.addr, control.URL}
	if cookies {
		args = append(args, "cookies")
	}
	out := nodepeer.RunTSOutput(t, 100*time.Second, "lb_clients.ts", args...)
	if !strings.HasPrefix(strings.TrimSpace(out), "ok ") {
		t.Fatalf("the clients printed %q", out)
	}
	t.Log(strings.TrimSpace(out))

	// A balancer logs a WebSocket when it closes, a moment after the clients
	// have gone: wait for the three upgrading clients' last ones.
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines = lb.log()
		if countUpgrades(lines) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	before := upstreamsByClient(lines[:linesAtKill])
	after := upstreamsByClient(lines[linesAtKill:])
	mu.Unlock()
	used := map[string]bool{}
	for remote, ups := range before {
		if len(ups) != 1 {
			t.Errorf("client %s reached %d nodes before the kill (%v): not sticky", remote, len(ups), ups)
		}
		for up := range ups {
			used[up] = true
		}
	}
	if len(before) != 6 || len(used) < 2 {
		t.Errorf("%d clients over %d nodes before the kill; want 6 over at least 2", len(before), len(used))
	}
	// The killed node's clients went on through another one. (Their
	// requests open at the kill are logged after it, with the dead node.)
	moved := 0
	for remote, ups := range before {
		if !ups[killed] {
			continue
		}
		for up := range after[remote] {
			if up != killed {
				moved++
				break
			}
		}
		if len(after[remote]) == 0 {
			t.Errorf("client %s of the killed node made no request after the kill", remote)
		}
	}
	if moved == 0 {
		t.Errorf("no client of the killed node %s reached another node after the kill: %v", killed, after)
	}
	// Their sessions were on Redis (live sessions), so they resumed them.
	var upgraded, connected, recovered int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "ok %d on websocket, %d connected, %d recovered", &upgraded, &connected, &recovered); err != nil {
		t.Fatalf("the clients printed %q: %v", out, err)
	}
	if recovered != moved {
		t.Errorf("%d clients recovered their session after the kill; %d moved off the killed node", recovered, moved)
	}
	for _, l := range lines {
		if e, ok := parseAccess(l); ok && e.status == "101" && remoteIndex(e.remote)%2 == 0 {
			t.Errorf("a polling-only client upgraded: %s", l)
		}
	}
	if upgrades := countUpgrades(lines); upgrades < 3 {
		t.Errorf("%d WebSocket upgrades through the balancer, want one per upgrading client at least", upgrades)
	}
}

// accessEntry is one access-log line ('$remote_addr $upstream_addr
// $status "$request"'): of a request nginx passed on to a second node after
// the first failed ("a, b"), the last node counts.
type accessEntry struct{ remote, upstream, status, request string }

func parseAccess(line string) (accessEntry, bool) {
	q := strings.Index(line, ` "`)
	remote, rest, ok := strings.Cut(line, " ")
	if q < 0 || !ok {
		return accessEntry{}, false
	}
	head := strings.Fields(line[len(remote)+1 : q])
	if len(head) < 2 {
		return accessEntry{}, false
	}
	_ = rest
	ups := strings.Join(head[:len(head)-1], " ")
	last := strings.TrimSpace(ups[strings.LastIndex(ups, ",")+1:])
	return accessEntry{remote: remote, upstream: last, status: head[len(head)-1], request: line[q+2:]}, true
}

// upstreamsByClient returns, for each client address, the nodes its
// Socket.IO requests reached.
func upstreamsByClient(lines []string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, l := range lines {
		e, ok := parseAccess(l)
		if !ok || !strings.Contains(e.request, "/socket.io/") || e.upstream == "-" {
			continue
		}
		if out[e.remote] == nil {
			out[e.remote] = map[string]bool{}
		}
		out[e.remote][e.upstream] = true
	}
	return out
}

// countUpgrades counts the WebSocket connections in the access log.
func countUpgrades(lines []string) int {
	n := 0
	for _, l := range lines {
		if e, ok := parseAccess(l); ok && e.status == "101" {
			n++
		}
	}
	return n
}

// remoteIndex is the client number of a loopback address 127.0.0.(10+i).
func remoteIndex(addr string) int {
	i := strings.LastIndex(addr, ".")
	n := 0
	for _, c := range addr[i+1:] {
		n = n*10 + int(c-'0')
	}
	return n - 10
}
