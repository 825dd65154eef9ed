package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/benchsrv"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// serve starts h on loopback and returns its ws:// URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

func benchServer(t *testing.T) string {
	t.Helper()
	srv, err := benchsrv.New()
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv)
}

// TestEveryScenarioRuns runs each scenario briefly, with few clients,
// against the benchmark server: each must finish with answered calls.
func TestEveryScenarioRuns(t *testing.T) {
	url := benchServer(t)
	short := 300 * time.Millisecond
	for _, cfg := range []config{
		{scenario: "latency", clients: 2},
		{scenario: "throughput", clients: 3, inflight: 4},
		{scenario: "binary", clients: 2, inflight: 2, size: 100 << 10},
		{scenario: "rpc", clients: 2, inflight: 4},
		{scenario: "rpcplain", clients: 2, inflight: 4},
		{scenario: "bidi", clients: 2, inflight: 4},
		{scenario: "fanout", clients: 20},
		{scenario: "binfanout", clients: 20},
		{scenario: "rpcfanout", clients: 20},
		{scenario: "idle", clients: 20, pids: []int{os.Getpid()}},
		{scenario: "goclient", clients: 2, inflight: 4, pids: []int{os.Getpid()}},
		{scenario: "polling", clients: 2},
		{scenario: "namespaces", clients: 4, inflight: 4, nsps: 2},
		{scenario: "rooms", clients: 3, rooms: 5},
	} {
		t.Run(cfg.scenario, func(t *testing.T) {
			cfg.url, cfg.duration = url, short
			res, err := run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			count := res["calls"]
			switch cfg.scenario {
			case "fanout", "binfanout", "rpcfanout", "rooms":
				count = res["delivered"]
			case "idle":
				count = res["connections"]
			}
			if n := asInt(count); n == 0 {
				t.Fatalf("nothing counted: %v", res)
			}
			switch cfg.scenario {
			case "latency", "throughput", "binary", "rpc", "rpcplain", "polling", "namespaces":
				// Round trips under the scenario's load, beside its rate.
				if p50, p999 := res["p50_us"], res["p999_us"]; p50 == nil || p999 == nil || p999.(float64) < p50.(float64) {
					t.Fatalf("no round-trip percentiles: %v", res)
				}
			}
		})
	}
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	}
	return 0
}

func TestRawEchoScenarios(t *testing.T) {
	url := serve(t, benchsrv.RawEcho())
	for _, cfg := range []config{
		{scenario: "latency", clients: 2},
		{scenario: "throughput", clients: 2, inflight: 4},
		{scenario: "binary", clients: 2, inflight: 2, size: 1 << 10},
	} {
		cfg.url, cfg.raw, cfg.duration = url, true, 200*time.Millisecond
		if res, err := run(cfg); err != nil || asInt(res["calls"]) == 0 {
			t.Errorf("%s: %v, %v", cfg.scenario, res, err)
		}
	}
}

// wrongChat answers SendMessage with an id the tool does not expect.
type wrongChat struct {
	chatv1sio.UnimplementedChatServiceServer
}

func (wrongChat) SendMessage(context.Context, *chatv1.SendMessageRequest) (*chatv1.SendMessageResponse, error) {
	return &chatv1.SendMessageResponse{Id: 999}, nil
}

// TestRefusedNamespaceFailsFast: a server without the namespace refuses
// the connection, and the run ends with that, not a timeout.
func TestRefusedNamespaceFailsFast(t *testing.T) {
	url := serve(t, socketio.NewServer(nil))
	_, err := run(config{url: url, scenario: "rpc", clients: 1, inflight: 1, duration: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("run ended with %v", err)
	}
}

// TestWrongRepliesFailTheRun: a server that answers with something other
// than what was sent must fail the run, not make it faster.
func TestWrongRepliesFailTheRun(t *testing.T) {
	srv := socketio.NewServer(nil)
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			if b, ok := args.Bytes(0); ok {
				_ = ack(append([]byte{1}, b...))
				return
			}
			_ = ack("not what was sent")
		})
	})
	if err := chatv1sio.RegisterChatServiceServer(srv, wrongChat{}); err != nil {
		t.Fatal(err)
	}
	// A stream that answers each message with another one.
	wrongEcho := rpc.NewBidiStreamHandler(bidiEvent, func(_ context.Context, s *rpc.BidiStream[*chatv1.SendMessageRequest, *chatv1.SendMessageRequest]) error {
		for {
			if _, err := s.Receive(); err != nil {
				return nil
			}
			if err := s.Send(&chatv1.SendMessageRequest{Text: "not what was sent"}); err != nil {
				return err
			}
		}
	})
	if err := rpc.Register(srv.Of(chatv1sio.ChatServiceNamespace), wrongEcho); err != nil {
		t.Fatal(err)
	}
	url := serve(t, srv)
	for _, cfg := range []config{
		{scenario: "latency", clients: 1},
		{scenario: "throughput", clients: 1, inflight: 2},
		{scenario: "binary", clients: 1, inflight: 1, size: 1 << 10},
		{scenario: "rpc", clients: 1, inflight: 1},
		{scenario: "bidi", clients: 1, inflight: 1},
		{scenario: "polling", clients: 1},
	} {
		cfg.url, cfg.duration = url, 200*time.Millisecond
		_, err := run(cfg)
		if !errors.Is(err, errBadReply) {
			t.Errorf("%s: run ended with %v, want a wrong-reply error", cfg.scenario, err)
		}
	}
}

// TestNamespacesSpreadsClients: the namespaces scenario's clients are on
// the numbered namespaces, every one of them used, and every call answered.
func TestNamespacesSpreadsClients(t *testing.T) {
	srv, err := benchsrv.New()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	srv.OnNamespace(func(n *socketio.Namespace) {
		n.OnConnection(func(*socketio.Socket) {
			mu.Lock()
			seen[n.Name()] = true
			mu.Unlock()
		})
	})
	res, err := run(config{url: serve(t, srv), scenario: "namespaces", clients: 8, inflight: 4, nsps: 4, duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if asInt(res["calls"]) == 0 || res["namespaces"] != 4 {
		t.Fatalf("results %v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 4 {
		if name := "/ns-" + strconv.Itoa(i); !seen[name] {
			t.Errorf("no client connected to %s (saw %v)", name, seen)
		}
	}
	if _, err := run(config{url: serve(t, srv), scenario: "namespaces", clients: 2, nsps: 4, duration: time.Millisecond}); err == nil {
		t.Error("2 clients over 4 namespaces ran")
	}
}

// TestRoomsDeliversEveryMessage: in the rooms scenario every receiver
// gets every broadcast, whichever room it went to.
func TestRoomsDeliversEveryMessage(t *testing.T) {
	// More rooms than one join write carries, so that joining takes
	// several chunks.
	// The server is in this process, so that its CPU and writes are read.
	res, err := run(config{url: benchServer(t), scenario: "rooms", clients: 3, rooms: joinChunk + 7, duration: 300 * time.Millisecond, pids: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	published, delivered := asInt(res["published"]), asInt(res["delivered"])
	if w, _ := res["server_writes_per_delivered"].(float64); published == 0 || delivered != 3*published || res["rooms"] != joinChunk+7 || w <= 0 {
		t.Fatalf("results %v", res)
	}
}

// TestWrongGrowthRepliesFailTheRun: a namespace that echoes something
// else, a broadcast that skips one room, and a join that does not join
// each fail their scenario as a wrong reply.
func TestWrongGrowthRepliesFailTheRun(t *testing.T) {
	srv := socketio.NewServer(nil)
	dyn := srv.OfRegexp(regexp.MustCompile(`^/ns-[0-9]+$`))
	if _, err := dyn.Handle("echo", func(_ *socketio.Socket, _ socketio.Args, ack socketio.Ack) { _ = ack("not what was sent") }); err != nil {
		t.Fatal(err)
	}
	root := srv.Of("/")
	joinsOfR1 := 0
	var mu sync.Mutex
	if _, err := root.Handle("join", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
		var room string
		_ = args.Decode(0, &room)
		mu.Lock()
		if room == "r-1" {
			joinsOfR1++
		}
		skip := room == "r-1" && joinsOfR1 == 3 // the third receiver's join
		mu.Unlock()
		if !skip {
			s.Join(room)
		}
		_ = ack()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Handle("fanout", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
		var room string
		_ = args.Decode(0, &room)
		_ = root.To(room).Emit("msg", args.Raw(1))
		_ = ack()
	}); err != nil {
		t.Fatal(err)
	}
	url := serve(t, srv)
	for _, cfg := range []config{
		{scenario: "namespaces", clients: 2, inflight: 2, nsps: 2},
		// The third receiver is not in r-1: it misses every other message.
		{scenario: "rooms", clients: 3, rooms: 2},
	} {
		cfg.url, cfg.duration = url, 300*time.Millisecond
		if _, err := run(cfg); !errors.Is(err, errBadReply) {
			t.Errorf("%s: run ended with %v, want a wrong-reply error", cfg.scenario, err)
		}
	}
}
