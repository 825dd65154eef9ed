package attack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/siotest"
)

// nspConn is a raw Socket.IO connection over WebSocket that sends
// CONNECTs and counts the answers.
type nspConn struct {
	ws *websocket.Conn
}

func dialNsp(t *testing.T, addr string) *nspConn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open: %q %v", open, err)
	}
	return &nspConn{ws: ws}
}

// flood sends a CONNECT for each name and returns how many were accepted
// and the refusal messages seen, answering the server's pings meanwhile.
func (c *nspConn) flood(t *testing.T, names []string) (accepted int, refusals map[string]int) {
	t.Helper()
	go func() {
		for _, n := range names {
			if c.ws.WriteMessage(websocket.TextMessage, []byte("40"+n+",")) != nil {
				return
			}
		}
	}()
	refusals = map[string]int{}
	_ = c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for got := 0; got < len(names); {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d answers: %v", got, err)
		}
		s := string(msg)
		switch {
		case s == "2":
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
		case strings.HasPrefix(s, "40"):
			accepted++
			got++
		case strings.HasPrefix(s, "44"):
			var body struct {
				Message string `json:"message"`
			}
			_, payload, _ := strings.Cut(s, ",")
			_ = json.Unmarshal([]byte(payload), &body)
			refusals[body.Message]++
			got++
		}
	}
	return accepted, refusals
}

type targetStats struct {
	Heap       uint64 `json:"heap"`
	Goroutines uint64 `json:"goroutines"`
	FDs        uint64 `json:"fds"`
}

func nspStats(t *testing.T, p *siotest.Process) targetStats {
	t.Helper()
	resp, err := http.Get(p.URL() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s targetStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func roomNames(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/room-%d", from+i)
	}
	return out
}

// TestNamespaceFlood floods a server process at its default limits with
// dynamic namespaces: first 10 000 names from one connection, then from
// 100 connections until the server-wide limit, then checks that a normal
// client still connects and that the memory is released once the flood
// disconnects.
func TestNamespaceFlood(t *testing.T) {
	bin := siotest.BuildProgram(t, "./internal/attack/nsptarget")
	p := siotest.StartProcess(t, bin)
	base := nspStats(t, p)

	one := dialNsp(t, p.Addr)
	accepted, refusals := one.flood(t, roomNames(0, 10000))
	t.Logf("FIGURE namespaces one connection holds after 10000 CONNECTs: %d namespaces", accepted)
	if accepted != 100 || refusals["Too many namespaces on this connection"] != 9900 {
		t.Errorf("one connection: %d accepted, refusals %v; want 100 and 9900 refused", accepted, refusals)
	}

	// 99 more connections fill the server-wide limit (10 000 with the 100
	// the first one holds).
	const conns, each = 99, 100
	flood := make([]*nspConn, conns)
	var mu sync.Mutex
	total, serverRefusals := 0, 0
	var wg sync.WaitGroup
	for i := range flood {
		flood[i] = dialNsp(t, p.Addr)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, r := flood[i].flood(t, roomNames(20000+i*1000, each))
			mu.Lock()
			total += a
			serverRefusals += r["Too many namespaces on this server"]
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	total += accepted
	during := nspStats(t, p)
	t.Logf("FIGURE dynamic namespaces held at the server limit: %d namespaces", total)
	t.Logf("FIGURE heap per dynamic namespace: %.0f bytes", float64(int64(during.Heap)-int64(base.Heap))/float64(total))
	if total != 10000 || serverRefusals != 0 {
		t.Errorf("%d namespaces accepted, %d refused; want 10000 and none", total, serverRefusals)
	}

	// A normal client still connects, to the main namespace and to a
	// dynamic namespace that exists; a new name is refused at the limit.
	normal := dialNsp(t, p.Addr)
	if a, r := normal.flood(t, []string{"/", "/room-20000", "/room-99999"}); a != 2 || r["Too many namespaces on this server"] != 1 {
		t.Errorf("normal client: %d of 2 namespaces joined, refusals %v, want one for the new name", a, r)
	}
	_ = normal.ws.Close()

	_ = one.ws.Close()
	for _, c := range flood {
		_ = c.ws.Close()
	}
	var after targetStats
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = nspStats(t, p)
		if after.Heap < base.Heap+(during.Heap-base.Heap)/10 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("FIGURE heap during the flood: %d KiB", during.Heap/1024)
	t.Logf("FIGURE heap after the flood left: %d KiB (before: %d KiB)", after.Heap/1024, base.Heap/1024)
	t.Logf("FIGURE goroutines before, during, after the flood: %d %d %d", base.Goroutines, during.Goroutines, after.Goroutines)
	if after.Heap >= base.Heap+(during.Heap-base.Heap)/10 {
		t.Errorf("heap %d KiB before, %d during, %d after the flood left: not released", base.Heap/1024, during.Heap/1024, after.Heap/1024)
	}
}

// TestNamespaceFloodOnRedis floods a node on the Redis adapter with 10 500
// dynamic namespaces from 105 connections: the node must keep one
// subscriber connection for all of them (not one per namespace), its
// descriptors and goroutines must stay flat, and Redis must go on taking
// other clients.
func TestNamespaceFloodOnRedis(t *testing.T) {
	r := siotest.StartRedis(t)
	bin := siotest.BuildProgram(t, "./internal/attack/nsptarget")
	p := siotest.StartProcess(t, bin, "-redis", r.Addr())
	base := nspStats(t, p)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	clientsBefore := redisClients(t, rdb)

	const conns, each = 105, 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range conns {
		c := dialNsp(t, p.Addr)
		defer c.ws.Close()
		wg.Go(func() {
			a, _ := c.flood(t, roomNames(i*each, each))
			mu.Lock()
			accepted += a
			mu.Unlock()
		})
	}
	wg.Wait()
	during := nspStats(t, p)
	clientsDuring := redisClients(t, rdb)
	t.Logf("FIGURE redis flood: namespaces accepted: %d (server limit 10000)", accepted)
	t.Logf("FIGURE redis flood: Redis clients of the node: %d before, %d during", clientsBefore, clientsDuring)
	t.Logf("FIGURE redis flood: node descriptors %d -> %d, goroutines %d -> %d", base.FDs, during.FDs, base.Goroutines, during.Goroutines)
	if accepted != 10000 {
		t.Errorf("%d namespaces accepted, want the server limit, 10000", accepted)
	}
	if clientsDuring > clientsBefore+2 {
		t.Errorf("Redis has %d clients during the flood, %d before: the node opens connections per namespace", clientsDuring, clientsBefore)
	}
	// Descriptors: the 105 flood connections, and a few more at most.
	if during.FDs > base.FDs+conns+20 {
		t.Errorf("node descriptors %d -> %d for %d connections", base.FDs, during.FDs, conns)
	}
	// Goroutines: those of the connections, not three per namespace.
	if during.Goroutines > base.Goroutines+4*conns+50 {
		t.Errorf("node goroutines %d -> %d for %d connections and %d namespaces", base.Goroutines, during.Goroutines, conns, accepted)
	}
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Errorf("Redis refuses another client during the flood: %v", err)
	}
}

// redisClients returns Redis's count of connected clients, less this one.
func redisClients(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(t.Context(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n - 1
		}
	}
	t.Fatalf("no connected_clients in %q", info)
	return 0
}
