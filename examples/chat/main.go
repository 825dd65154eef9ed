// Command chat is the demo: a chat whose server implements the generated
// ChatService and whose browser page calls it with the generated
// TypeScript client over socket.io-client.
//
//	go run ./examples/chat            # then open http://127.0.0.1:8080
//
// Add ?transports=polling to the page's address to see it work without
// WebSocket. Prometheus metrics are at /metrics; with SIO_ADMIN_USERNAME
// and SIO_ADMIN_PASSWORD set, the Socket.IO Admin UI logs in (its page at
// /admin-ui/ once npm packages are installed). With SIO_TRACE=1 every
// call's OpenTelemetry span is written to stdout; SIO_DEBUG=engineio,
// socketio,rpc turns on protocol debug logs.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/crypto/bcrypt"

	"github.com/sio-dev/sio/examples/chat/chatapp"
	"github.com/sio-dev/sio/runtime/rpc/rpcotel"
	"github.com/sio-dev/sio/runtime/sioadmin"
	"github.com/sio-dev/sio/runtime/sioprom"
	"github.com/sio-dev/sio/runtime/socketio"
)

// newServer builds the demo's server (one node, in memory).
var newServer = func() (*socketio.Server, http.Handler, error) {
	calls := sioprom.NewRPCMetrics()
	srv, chat, err := chatapp.New(nil, append(observability(os.Stdout), chatapp.WithHandlerOptions(calls.ServerOptions()...))...)
	if err != nil {
		return nil, nil, err
	}
	// Prometheus metrics of the runtime, the calls and the process at /metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(sioprom.NewServerCollector(srv), calls, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", chat)
	if err := adminUI(srv, mux); err != nil {
		return nil, nil, err
	}
	return srv, mux, nil
}

// adminUIDist is where npm installs the Admin UI's page.
const adminUIDist = "node_modules/@socket.io/admin-ui/ui/dist"

// adminUI lets the official Socket.IO Admin UI in when SIO_ADMIN_USERNAME
// and SIO_ADMIN_PASSWORD are set, and serves its page at /admin-ui/ when
// the npm package is installed (else admin.socket.io works too).
func adminUI(srv *socketio.Server, mux *http.ServeMux) error {
	user, pass := os.Getenv("SIO_ADMIN_USERNAME"), os.Getenv("SIO_ADMIN_PASSWORD")
	if user == "" || pass == "" {
		log.Printf("Admin UI: set SIO_ADMIN_USERNAME and SIO_ADMIN_PASSWORD to let it in")
		return nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	if _, err := sioadmin.Instrument(srv, sioadmin.Options{Auth: &sioadmin.BasicAuth{Username: user, PasswordHash: string(hash)}}); err != nil {
		return err
	}
	if _, err := os.Stat(adminUIDist); err == nil {
		mux.Handle("/admin-ui/", http.StripPrefix("/admin-ui", sioadmin.UIHandler(os.DirFS(adminUIDist))))
		log.Printf("Admin UI: open /admin-ui/ and log in as %s, with this server's URL", user)
	} else {
		log.Printf("Admin UI: log in as %s at admin.socket.io with this server's URL (or npm install to serve it here)", user)
	}
	return nil
}

// observability turns on what the environment asks for: SIO_TRACE=1
// writes a span per call to out.
func observability(out io.Writer) []chatapp.Option {
	if os.Getenv("SIO_TRACE") != "1" {
		return nil
	}
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithPrettyPrint())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	log.Printf("SIO_TRACE=1: a span per call is written to stdout")
	return []chatapp.Option{chatapp.WithHandlerOptions(rpcotel.ServerOptions(rpcotel.WithTracerProvider(tp))...)}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	srv, handler, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Addr: *addr, Handler: handler}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(shutdown)
		_ = hs.Shutdown(shutdown)
	}()
	log.Printf("chat demo on http://%s (metrics at /metrics; SIO_TRACE=1 prints a span per call)", *addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
