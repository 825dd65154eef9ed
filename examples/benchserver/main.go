// Command benchserver is the Go side of the load comparisons run by
// scripts/bench.sh: the Socket.IO server of internal/benchsrv, with the
// events cmd/siobench drives, or, with -raw, a bare WebSocket echo as the
// ceiling.
// With -reuseport several processes share one port (scripts/idle-scale.sh);
// -cpuprofile and -memprofile write profiles, and -exectrace an execution
// trace, when the process is stopped;
// with -redis it is one node of a cluster (scripts/bench-cluster.sh).
//
//	go run ./examples/benchserver -addr 127.0.0.1:4000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sio-dev/sio/internal/benchsrv"
	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/redisstreamsadapter"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/rpc/rpcotel"
	"github.com/sio-dev/sio/runtime/sioprom"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "address to serve on")
	raw := flag.Bool("raw", false, "serve a bare WebSocket echo instead")
	reusePort := flag.Bool("reuseport", false, "listen with SO_REUSEPORT, so that several processes share addr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until SIGINT or SIGTERM")
	memProfile := flag.String("memprofile", "", "write a heap profile here on SIGINT or SIGTERM")
	memProfileRate := flag.Int("memprofilerate", 0, "with -memprofile, sample one allocation per this many bytes (1: every allocation, exact sizes per connection; 0: the runtime's default)")
	execTrace := flag.String("exectrace", "", "write an execution trace (go tool trace) here until SIGINT or SIGTERM")
	withMetrics := flag.Bool("metrics", false, "turn on Prometheus metrics (served at /metrics), to measure their cost")
	withTrace := flag.Float64("trace", 0, "trace ChatService's calls with OpenTelemetry, sampling this fraction of them (1: all; spans batched and dropped), to measure the cost")
	recovery := flag.Bool("recovery", false, "turn on connection state recovery (per-call streams then keep what they send until it is read), to measure the cost")
	sdkSampler := flag.Bool("trace-sdk-sampler", false, "with -trace, sample in the OpenTelemetry SDK (ParentBased(TraceIDRatioBased)) instead of with rpcotel.WithSampleRatio")
	redisAddr := flag.String("redis", "", "join a cluster through this Redis server (host:port), to measure a cluster")
	adapter := flag.String("adapter", "pubsub", "with -redis: pubsub (redisadapter.New), sharded (redisadapter.NewSharded) or streams (redisstreamsadapter.New)")
	flag.Parse()
	if *cpuProfile != "" || *memProfile != "" || *execTrace != "" {
		if *memProfileRate > 0 {
			runtime.MemProfileRate = *memProfileRate
		}
		profileUntilSignal(*cpuProfile, *memProfile, *execTrace)
	}
	if *raw {
		log.Fatal(http.ListenAndServe(*addr, benchsrv.RawEcho()))
	}
	var opts []rpc.HandlerOption
	calls := sioprom.NewRPCMetrics()
	if *withTrace > 0 {
		var tp *sdktrace.TracerProvider
		if *sdkSampler {
			tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*withTrace))))
			opts = append(opts, rpcotel.ServerOptions(rpcotel.WithTracerProvider(tp))...)
		} else {
			tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
			opts = append(opts, rpcotel.ServerOptions(rpcotel.WithTracerProvider(tp), rpcotel.WithSampleRatio(*withTrace))...)
		}
	}
	if *withMetrics {
		opts = append(opts, calls.ServerOptions()...)
	}
	sopts := &socketio.Options{}
	if *recovery {
		sopts.ConnectionStateRecovery = &socketio.RecoveryOptions{}
	}
	if *redisAddr != "" {
		a, err := clusterAdapter(*redisAddr, *adapter)
		if err != nil {
			log.Fatal(err)
		}
		sopts.Adapter = a
	}
	srv, err := benchsrv.NewWith(sopts, opts...)
	if err != nil {
		log.Fatal(err)
	}
	var handler http.Handler = srv
	if *withMetrics {
		reg := prometheus.NewRegistry()
		reg.MustRegister(sioprom.NewServerCollector(srv), calls)
		mux := http.NewServeMux()
		mux.Handle(srv.Path(), srv)
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		handler = mux
	}
	switch {
	case !*reusePort && !*withMetrics:
		log.Fatal(srv.ListenAndServe(*addr))
	case !*reusePort:
		log.Fatal(http.ListenAndServe(*addr, handler))
	}
	ln, err := listenReusePort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(ln, handler))
}

// discard is a span exporter that drops what it is given: the cost of
// tracing without the cost of a particular backend.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// profileUntilSignal starts a CPU profile and, on SIGINT or SIGTERM, writes
// it and a heap profile, then exits: the bench script stops servers with a
// signal, so a profiled run needs no other change.
func profileUntilSignal(cpuPath, memPath, tracePath string) {
	var cpu, tr *os.File
	if tracePath != "" {
		var err error
		if tr, err = os.Create(tracePath); err != nil {
			log.Fatal(err)
		}
		if err := trace.Start(tr); err != nil {
			log.Fatal(err)
		}
	}
	if cpuPath != "" {
		var err error
		if cpu, err = os.Create(cpuPath); err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			log.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		if tr != nil {
			trace.Stop()
			_ = tr.Close()
		}
		if cpu != nil {
			pprof.StopCPUProfile()
			_ = cpu.Close()
		}
		if memPath != "" {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			log.Printf("memstats: heap in use %d KiB, heap idle %d KiB, heap released %d KiB, stacks %d KiB, goroutines %d, next GC at %d KiB",
				m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.StackInuse>>10, runtime.NumGoroutine(), m.NextGC>>10)
			runtime.GC()
			runtime.ReadMemStats(&m)
			log.Printf("memstats after GC: live heap %d KiB", m.HeapAlloc>>10)
			if f, err := os.Create(memPath); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
		os.Exit(0)
	}()
}

// listenReusePort listens on addr with SO_REUSEPORT set, so that several
// server processes can share one port and the kernel spreads connections
// over them: the way to hold more connections than one process may open.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr) //sio:root-context
}

// clusterAdapter returns the adapter factory of a cluster node on the
// Redis server at addr.
func clusterAdapter(addr, kind string) (sioadapter.Factory, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	switch kind {
	case "pubsub":
		return redisadapter.New(rdb, nil), nil
	case "sharded":
		return redisadapter.NewSharded(rdb, nil), nil
	case "streams":
		return redisstreamsadapter.New(rdb, nil), nil
	}
	return nil, fmt.Errorf("unknown adapter %q", kind)
}
