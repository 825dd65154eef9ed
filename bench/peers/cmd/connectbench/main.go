// Command connectbench loads cmd/connectserver with typed unary calls in
// the shape of cmd/siobench's goclient scenario (sio's generated Go client
// calling ChatService.SendMessage): -clients HTTP/2 connections, each with
// -inflight goroutines making one call after another until -duration is
// up, every reply checked. It prints one JSON line: calls per second, the
// CPU time per call of this process and, given -pid, of the server.
//
//	go run ./cmd/connectbench -url http://127.0.0.1:4105 -pid 1234
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/sio-dev/sio/bench/peers/connectchat"
	"github.com/sio-dev/sio/bench/peers/internal/proccpu"
	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
)

type config struct {
	url      string
	clients  int
	inflight int
	duration time.Duration
	pid      int
	grpc     bool
	gzip     bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:4105", "server (http://host:port, loopback only)")
	flag.IntVar(&cfg.clients, "clients", 50, "HTTP/2 connections")
	flag.IntVar(&cfg.inflight, "inflight", 32, "calls in flight per connection")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long to measure")
	flag.IntVar(&cfg.pid, "pid", 0, "server process, for its CPU time per call")
	flag.BoolVar(&cfg.grpc, "grpc", false, "speak gRPC instead of the Connect protocol")
	flag.BoolVar(&cfg.gzip, "gzip", false, "accept gzipped replies, as connect-go's clients do by default (its handlers then compress every reply, however small)")
	flag.Parse()
	if u, err := url.Parse(cfg.url); err != nil || u.Scheme != "http" || !loopback(u.Hostname()) {
		fmt.Fprintln(os.Stderr, "connectbench: only http:// loopback servers may be loaded")
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connectbench:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func loopback(host string) bool {
	return host == "localhost" || len(host) > 4 && host[:4] == "127."
}

var errBadReply = errors.New("connectbench: wrong reply")

func run(cfg config) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	var opts []connect.ClientOption
	protocol, scenario := "connect", "connect"
	if cfg.grpc {
		opts = append(opts, connect.WithGRPC())
		protocol = "grpc"
	}
	if cfg.gzip {
		scenario += "-gzip"
	} else {
		// Unregistering gzip takes it out of Accept-Encoding, so that
		// two-byte replies are not compressed.
		opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
	}
	msg := &chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"}
	// One transport per client: HTTP/2 multiplexes a transport's calls on
	// one connection, so this makes -clients connections, each opened by a
	// first call before the clock starts.
	clients := make([]*connect.Client[chatv1.SendMessageRequest, chatv1.SendMessageResponse], cfg.clients)
	var transports []*http.Transport
	defer func() {
		for _, t := range transports {
			t.CloseIdleConnections()
		}
	}()
	for i := range clients {
		t := &http.Transport{Protocols: connectchat.H2C()}
		transports = append(transports, t)
		clients[i] = connectchat.NewClient(&http.Client{Transport: t}, cfg.url, opts...)
		if err := call(ctx, clients[i], msg); err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
	}

	var calls atomic.Int64
	var firstErr atomic.Value
	selfBefore, serverBefore := proccpu.Self(), proccpu.Of(cfg.pid)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		for range cfg.inflight {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if err := call(ctx, c, msg); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					calls.Add(1)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	selfAfter, serverAfter := proccpu.Self(), proccpu.Of(cfg.pid)
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	n := calls.Load()
	if n == 0 {
		return nil, errors.New("connectbench: no call completed")
	}
	res := map[string]any{
		"scenario":               scenario,
		"protocol":               protocol,
		"clients":                cfg.clients,
		"in_flight":              cfg.inflight,
		"calls":                  n,
		"elapsed_sec":            elapsed.Seconds(),
		"per_second":             float64(n) / elapsed.Seconds(),
		"client_cpu_us_per_call": float64((selfAfter - selfBefore).Microseconds()) / float64(n),
	}
	if cfg.pid > 0 {
		res["server_cpu_us_per_call"] = float64((serverAfter - serverBefore).Microseconds()) / float64(n)
	}
	return res, nil
}

// call makes one SendMessage call and checks its reply, as siobench's
// goclient scenario does: the id is the length of "hello". A request is
// made per call (its headers are the call's own), its message shared.
func call(ctx context.Context, c *connect.Client[chatv1.SendMessageRequest, chatv1.SendMessageResponse], msg *chatv1.SendMessageRequest) error {
	res, err := c.CallUnary(ctx, connect.NewRequest(msg))
	if err != nil {
		return err
	}
	if id := res.Msg.GetId(); id != 5 {
		return fmt.Errorf("%w: id %d", errBadReply, id)
	}
	return nil
}
