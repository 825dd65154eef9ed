// Command siobench is a load tool for Socket.IO servers. It speaks Engine.IO
// v4 and Socket.IO v5 over WebSocket (or raw frames to an echo server, for
// a ceiling), checks every reply (a wrong or missing ack is an error, not a
// faster number), and prints one JSON line of results.
//
// Scenarios:
//
//	latency     one client, one call at a time: ack round trip p50/p99/p999
//	throughput  many clients, many calls in flight: acks per second, and their round trips p50/p99/p999
//	binary      64 KiB binary acks: MB/s
//	fanout      a room of many clients, a publisher: delivered messages/s and latency
//	binfanout   fanout of protobuf bytes in binary attachments
//	rpcfanout   binfanout as a typed room stream (ChatService.WatchRoom
//	            subscribers): the typed layer's cost over the same bytes
//	idle        many idle connections held through heartbeats: server KiB per connection
//	rpc         typed unary calls (example ChatService), as the wire carries them
//	goclient    rpc made by the generated Go client (sioclient underneath): calls/s
//	            and CPU per call of the client process beside the server's (-pid)
//	rpcmeta     rpc with the call metadata the generated clients send (an id and
//	            a deadline), so the server tracks each call for cancels
//	rpcplain    rpc's request bytes as a plain binary event ("echo") and ack, in
//	            the same load shape: the baseline the typed calls are held to
//	bidi        typed messages on bidirectional streams (one per client), echoed:
//	            messages/s and per-message latency, beside rpc's unary calls
//	polling     the latency scenario over HTTP long-polling: clients each with one
//	            call in flight, POSTed, its ack read from the GET kept open
//	namespaces  throughput with the clients spread over -namespaces namespaces
//	            (/ns-0, /ns-1, ...): acks/s and server CPU per ack
//	rooms       fanout to -rooms rooms, every receiver in all of them, the
//	            publisher's broadcasts going to the rooms in turn: each one
//	            reaches the same receivers, so only the number of rooms differs
//
// The server must answer the events of examples/benchserver. Every run is
// bounded by -duration, and addresses must be on loopback.
//
//	go run ./cmd/siobench -url ws://127.0.0.1:4000 -scenario throughput
//
// Given several servers (-url a,b,c: the nodes of a cluster), clients are
// spread over them in turn and a fanout's publisher is on the first, so a
// broadcast reaches the other nodes' clients through the cluster's adapter.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
)

type config struct {
	url      string
	urls     []string // every node of a cluster; url is the first
	raw      bool
	scenario string
	duration time.Duration
	clients  int
	inflight int
	size     int
	pids     []int // the server's processes, for memory and CPU figures
	nsp      string
	nsps     int // namespaces scenario: how many namespaces the clients are spread over
	rooms    int // rooms scenario: how many rooms every receiver joins
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "ws://127.0.0.1:4000", "server (ws://host:port, loopback only); for a cluster, its nodes separated by commas: clients are spread over them, a publisher is on the first")
	flag.BoolVar(&cfg.raw, "raw", false, "the server is a bare WebSocket echo")
	flag.StringVar(&cfg.scenario, "scenario", "throughput", "latency|throughput|binary|fanout|binfanout|rpcfanout|idle|rpc|rpcmeta|rpcplain|goclient|bidi|polling|namespaces|rooms")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long to measure")
	flag.IntVar(&cfg.clients, "clients", 0, "connections (default per scenario)")
	flag.IntVar(&cfg.inflight, "inflight", 0, "calls in flight per connection (default per scenario)")
	flag.IntVar(&cfg.size, "size", 0, "payload bytes (default per scenario)")
	flag.IntVar(&cfg.nsps, "namespaces", 0, "namespaces scenario: namespaces to spread the clients over (default 1)")
	flag.IntVar(&cfg.rooms, "rooms", 0, "rooms scenario: rooms every receiver joins and the publisher broadcasts to in turn (default 1)")
	pids := flag.String("pid", "", "server process, for memory per connection (idle), CPU per delivered message (fanout) and CPU per call (the others); for a cluster, its processes separated by commas")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load tool (the client side of goclient) here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "siobench:", err)
			os.Exit(2)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	for _, p := range strings.FieldsFunc(*pids, func(r rune) bool { return r == ',' }) {
		pid, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "siobench: bad -pid:", p)
			os.Exit(2)
		}
		cfg.pids = append(cfg.pids, pid)
	}
	cfg.urls = strings.Split(cfg.url, ",")
	cfg.url = cfg.urls[0]
	for _, u := range cfg.urls {
		if !strings.HasPrefix(u, "ws://127.") && !strings.HasPrefix(u, "ws://localhost") {
			fmt.Fprintln(os.Stderr, "siobench: only loopback servers may be loaded")
			os.Exit(2)
		}
	}
	cpuBefore, selfBefore, started := processCPU(cfg.pids), selfCPU(), time.Now()
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "siobench:", err)
		os.Exit(1)
	}
	// Server CPU per call, for the scenarios that do not measure it
	// themselves: over the whole run, connecting included (a few
	// milliseconds against seconds of calls). On a shared machine it moves
	// less than rates do.
	if calls := asCount(res["calls"]); len(cfg.pids) > 0 && calls > 0 && res["server_cpu_us_per_call"] == nil {
		res["server_cpu_us_per_call"] = float64((processCPU(cfg.pids) - cpuBefore).Microseconds()) / calls
	}
	// How busy each side was, in cores, over the whole run: a side near
	// 1.0 (on its one pinned core) was what limited the rate.
	if wall := time.Since(started).Seconds(); wall > 0 {
		res["load_cores_busy"] = (selfCPU() - selfBefore).Seconds() / wall
		if len(cfg.pids) > 0 {
			res["server_cores_busy"] = (processCPU(cfg.pids) - cpuBefore).Seconds() / wall
		}
	}
	res["scenario"] = cfg.scenario
	res["nodes"] = len(cfg.urls)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// asCount is a result's count as a float, 0 if it has none.
func asCount(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

func def(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

// fanoutInflight is how many broadcasts the fan-out publisher keeps
// outstanding by default: enough that a server able to batch its writes
// is what saturates (with 4, neither side was busy: the publisher waited
// on each round of a thousand deliveries).
const fanoutInflight = 128

func run(cfg config) (map[string]any, error) {
	if cfg.scenario != "namespaces" {
		cfg.nsps = 0 // the other scenarios keep their own namespace
	}
	switch cfg.scenario {
	case "latency":
		def(&cfg.clients, 1)
		def(&cfg.inflight, 1)
		def(&cfg.size, 16)
		return calls(cfg, textRequest(cfg.size), true)
	case "throughput":
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		def(&cfg.size, 16)
		return calls(cfg, textRequest(cfg.size), false)
	case "binary":
		def(&cfg.clients, 8)
		def(&cfg.inflight, 4)
		def(&cfg.size, 64<<10)
		return calls(cfg, &request{event: "echo", binary: payload(cfg.size)}, false)
	case "rpc":
		cfg.nsp = chatv1sio.ChatServiceNamespace
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		return calls(cfg, rpcRequest(), false)
	case "rpcmeta":
		cfg.nsp = chatv1sio.ChatServiceNamespace
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		r := rpcRequest()
		r.meta = true
		return calls(cfg, r, false)
	case "rpcplain":
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		r := rpcRequest()
		r.event, r.want = "echo", nil
		return calls(cfg, r, false)
	case "goclient":
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		return goClient(cfg)
	case "bidi":
		def(&cfg.clients, 50)
		def(&cfg.inflight, 32)
		return bidi(cfg)
	case "fanout":
		def(&cfg.clients, 1000)
		def(&cfg.inflight, fanoutInflight)
		return fanout(cfg)
	case "binfanout":
		def(&cfg.clients, 1000)
		def(&cfg.inflight, fanoutInflight)
		return fanoutWith(cfg, binaryFanout)
	case "rpcfanout":
		def(&cfg.clients, 1000)
		def(&cfg.inflight, fanoutInflight)
		return fanoutWith(cfg, typedFanout)
	case "idle":
		def(&cfg.clients, 10000)
		return idle(cfg)
	case "namespaces":
		def(&cfg.clients, 64)
		def(&cfg.inflight, 32)
		def(&cfg.size, 16)
		def(&cfg.nsps, 1)
		return spreadOverNamespaces(cfg)
	case "rooms":
		def(&cfg.clients, 10)
		def(&cfg.inflight, fanoutInflight)
		def(&cfg.rooms, 1)
		return overRooms(cfg)
	case "polling":
		if cfg.raw {
			return nil, fmt.Errorf("a raw echo does not speak long-polling")
		}
		def(&cfg.clients, 10)
		def(&cfg.size, 16)
		return polling(cfg)
	}
	return nil, fmt.Errorf("unknown scenario %q", cfg.scenario)
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 31)
	}
	return b
}

func textRequest(n int) *request {
	s := `"` + strings.Repeat("x", max(0, n-2)) + `"`
	return &request{event: "echo", text: []byte(s)}
}

func rpcRequest() *request {
	req, _ := proto.Marshal(&chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"})
	res, _ := proto.Marshal(&chatv1.SendMessageResponse{Id: 5})
	return &request{event: chatv1sio.ChatServiceSendMessageEvent, binary: req, want: res}
}

// calls runs clients×inflight calls of r for the duration.
func calls(cfg config, r *request, withLatency bool) (map[string]any, error) {
	conns, err := dialAll(cfg, cfg.clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	var total atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr firstError
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	if !withLatency {
		return pipelined(cfg, conns, r)
	}
	for _, c := range conns {
		wg.Go(func() {
			sent := map[uint64]time.Time{}
			var next uint64
			var mine []time.Duration
			for range cfg.inflight {
				if err := c.send(r, next); err != nil {
					firstErr.set(err)
					return
				}
				sent[next] = time.Now()
				next++
			}
			for len(sent) > 0 {
				_ = c.ws.SetReadDeadline(deadline.Add(5 * time.Second))
				id, err := c.recv(r)
				if err != nil {
					firstErr.set(err)
					return
				}
				if c.raw {
					id = next - uint64(len(sent)) // echoes come back in order
				}
				t0, ok := sent[id]
				if !ok {
					firstErr.set(fmt.Errorf("%w: unknown ack id %d", errBadReply, id))
					return
				}
				delete(sent, id)
				total.Add(1)
				if withLatency {
					mine = append(mine, time.Since(t0))
				}
				if time.Now().Before(deadline) {
					if err := c.send(r, next); err != nil {
						firstErr.set(err)
						return
					}
					sent[next] = time.Now()
					next++
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	res := map[string]any{
		"calls":       total.Load(),
		"per_second":  float64(total.Load()) / elapsed.Seconds(),
		"mb_per_sec":  float64(total.Load()) * float64(max(len(r.text), len(r.binary))) / elapsed.Seconds() / 1e6,
		"clients":     cfg.clients,
		"in_flight":   cfg.inflight,
		"elapsed_sec": elapsed.Seconds(),
	}
	if withLatency {
		addPercentiles(res, latencies)
	}
	return res, nil
}

// addPercentiles records the p50, p99 and p99.9 of latencies in res.
func addPercentiles(res map[string]any, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50_us", 0.50}, {"p99_us", 0.99}, {"p999_us", 0.999}} {
		res[q.name] = float64(percentile(latencies, q.p).Microseconds())
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// node returns the server client i connects to: the nodes in turn.
func (cfg config) node(i int) string {
	if len(cfg.urls) == 0 {
		return cfg.url
	}
	return cfg.urls[i%len(cfg.urls)]
}

// namespace returns the namespace client i joins: /ns-<i mod nsps> when
// the clients are spread over numbered namespaces, else nsp.
func (cfg config) namespace(i int) string {
	if cfg.nsps > 0 {
		return "/ns-" + strconv.Itoa(i%cfg.nsps)
	}
	return cfg.nsp
}

func dialAll(cfg config, n int) ([]*conn, error) { return dialMany(cfg, n, dial, nil) }

// dialAllWith is dialAll, calling onDial (if not nil) with each connection
// as soon as it is open.
func dialAllWith(cfg config, n int, onDial func(*conn)) ([]*conn, error) {
	return dialMany(cfg, n, dial, onDial)
}

// dialReceivers is dialAll with leanConns, for connections that mostly
// read (fan-out receivers).
func dialReceivers(cfg config, n int) ([]*conn, error) { return dialMany(cfg, n, dialReceiver, nil) }

// dialMany opens n connections with open, 64 at a time, calling onDial
// (if not nil) with each as soon as it is open.
func dialMany(cfg config, n int, open func(base string, raw bool, i int, nsp string) (*conn, error), onDial func(*conn)) ([]*conn, error) {
	conns := make([]*conn, n)
	var wg sync.WaitGroup
	var firstErr firstError
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := open(cfg.node(i), cfg.raw, i, cfg.namespace(i))
			if err != nil {
				firstErr.set(err)
				return
			}
			conns[i] = c
			if onDial != nil {
				onDial(c)
			}
		})
	}
	wg.Wait()
	if err := firstErr.get(); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

// pipelined keeps inflight calls outstanding per connection with a reader
// and a writer goroutine: every ack frees a slot, and the writer sends all
// freed slots' calls in one write. The tool then costs a fraction of a
// system call per call, so the server is what is measured.
func pipelined(cfg config, conns []*conn, r *request) (map[string]any, error) {
	var total atomic.Int64
	var firstErr firstError
	// Every call's round trip, from the write of its batch to its ack:
	// latency under this load, beside the rate.
	var latMu sync.Mutex
	var latencies []time.Duration
	cpuBefore := processCPU(cfg.pids)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, c := range conns {
		slots := make(chan struct{}, cfg.inflight)
		for range cfg.inflight {
			slots <- struct{}{}
		}
		var mu sync.Mutex                         // guards outstanding, next and stopped
		outstanding := map[uint64]time.Duration{} // call id -> when its batch began, since start
		var next uint64
		stopped := false
		wg.Go(func() { // writer
			defer func() {
				// Past the deadline: once nothing is outstanding, wake the
				// reader, whose read would otherwise wait for its deadline.
				mu.Lock()
				stopped = true
				idle := len(outstanding) == 0
				mu.Unlock()
				if idle {
					_ = c.ws.SetReadDeadline(time.Now())
				}
			}()
			for range slots {
				n := 1
			drain:
				for {
					select {
					case _, ok := <-slots:
						if !ok {
							break drain
						}
						n++
					default:
						break drain
					}
				}
				if time.Now().After(deadline) {
					return
				}
				c.batch.begin()
				sentAt := time.Since(start)
				mu.Lock()
				for range n {
					outstanding[next] = sentAt
					if err := c.send(r, next); err != nil {
						firstErr.set(err)
					}
					next++
				}
				mu.Unlock()
				if err := c.batch.flush(); err != nil {
					firstErr.set(err)
					return
				}
			}
		})
		wg.Go(func() { // reader
			defer close(slots)
			var seen uint64
			var mine []time.Duration
			defer func() {
				latMu.Lock()
				latencies = append(latencies, mine...)
				latMu.Unlock()
			}()
			// Set once: the writer moves it to now to end the reader.
			_ = c.ws.SetReadDeadline(deadline.Add(5 * time.Second))
			for {
				id, err := c.recv(r)
				mu.Lock()
				done, left := stopped, len(outstanding)
				mu.Unlock()
				if err != nil {
					if !done || left > 0 {
						firstErr.set(fmt.Errorf("%d calls unanswered: %w", left, err))
					}
					return
				}
				if c.raw {
					id = seen // echoes come back in order
				}
				seen++
				mu.Lock()
				sentAt, ok := outstanding[id]
				delete(outstanding, id)
				left = len(outstanding)
				done = stopped
				mu.Unlock()
				if !ok {
					firstErr.set(fmt.Errorf("%w: unknown ack id %d", errBadReply, id))
					return
				}
				total.Add(1)
				mine = append(mine, time.Since(start)-sentAt)
				if done && left == 0 {
					return
				}
				if time.Now().Before(deadline) {
					slots <- struct{}{}
				} else if left == 0 {
					// The writer may not have seen the deadline yet; let it.
					slots <- struct{}{}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	cpu := processCPU(cfg.pids) - cpuBefore
	size := max(len(r.text), len(r.binary))
	res := map[string]any{
		"calls":       total.Load(),
		"per_second":  float64(total.Load()) / elapsed.Seconds(),
		"mb_per_sec":  float64(total.Load()) * float64(size) / elapsed.Seconds() / 1e6,
		"clients":     cfg.clients,
		"in_flight":   cfg.inflight,
		"elapsed_sec": elapsed.Seconds(),
	}
	if len(cfg.pids) > 0 && total.Load() > 0 {
		res["server_cpu_us_per_call"] = float64(cpu.Nanoseconds()) / 1e3 / float64(total.Load())
	}
	addPercentiles(res, latencies)
	return res, nil
}

// firstError keeps the first error any of a run's goroutines reports.
// (atomic.Value would not do: offered a second error of another type, it
// panics, which a run with 400 000 connections did on its dial errors.)
type firstError struct{ p atomic.Pointer[error] }

// set records err unless an error was recorded before.
func (f *firstError) set(err error) { f.p.CompareAndSwap(nil, &err) }

// get returns the first error recorded, or nil.
func (f *firstError) get() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}
