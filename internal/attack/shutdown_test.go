package attack

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// TestShutdownLosesNothing stops a node with SIGTERM while broadcasts
// flow: its clients (the official socket.io-client with connection state
// recovery, through a proxy that now leads to the other node) must all
// recover there, and none may miss, repeat or reorder a broadcast.
// Three node processes share one redis-server: a, which is stopped; b,
// where the clients go; p, which publishes.
func TestShutdownLosesNothing(t *testing.T) {
	nodepeer.Require(t)
	clients := pick(20, 20)
	ticks := pick(3000, 6000)
	const interval = 300 * time.Microsecond
	r := siotest.StartRedis(t)
	bin := siotest.BuildProgram(t, "./internal/attack/clustertarget")
	a := siotest.StartProcess(t, bin, "-redis", r.Addr(), "-name", "a")
	b := siotest.StartProcess(t, bin, "-redis", r.Addr(), "-name", "b")
	p := siotest.StartProcess(t, bin, "-redis", r.Addr(), "-name", "p")
	proxy := siotest.StartProxy(t, a.Addr)
	peers := nodepeer.Start(t, "ready", "shutdown_clients.mjs", "http://"+proxy.Addr(), strconv.Itoa(clients), strconv.Itoa(ticks))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publisher, err := sioclient.Connect(ctx, p.URL(), &sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Manager().Close()
	published := make(chan error, 1)
	go func() {
		_, err := publisher.EmitWithAck(ctx, "publish", ticks, interval.Microseconds())
		published <- err
	}()
	// A third of the way in, a is stopped as an orchestrator stops a node;
	// reconnecting clients reach b.
	time.Sleep(time.Duration(ticks) * interval / 3)
	proxy.SetTarget(b.Addr)
	a.Terminate(15 * time.Second)
	if err := <-published; err != nil {
		t.Fatalf("publishing: %v", err)
	}
	out, exited := peers.Wait(40 * time.Second)
	if !exited {
		t.Fatalf("the clients did not finish:\n%s", out)
	}
	var res struct{ Clients, Reconnected, Recovered, Lost, Duplicated, Reordered int }
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	figure(t, "shutdown: clients recovered on the other node", float64(res.Recovered), "of "+strconv.Itoa(res.Clients), float64(res.Clients))
	figure(t, "shutdown: broadcasts lost, all clients", float64(res.Lost), "messages", 0)
	figure(t, "shutdown: broadcasts received twice or out of order", float64(res.Duplicated+res.Reordered), "messages", 0)
	if res.Reconnected != clients || res.Recovered != clients {
		t.Errorf("%d of %d clients reconnected and %d recovered their session; all should have", res.Reconnected, clients, res.Recovered)
	}
	if res.Lost != 0 || res.Duplicated != 0 || res.Reordered != 0 {
		t.Errorf("over %d clients, %d broadcasts lost, %d repeated, %d out of order; want none", clients, res.Lost, res.Duplicated, res.Reordered)
	}
}
