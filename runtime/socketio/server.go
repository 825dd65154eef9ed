package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sio-dev/sio/runtime/engineio"
)

// Server is a Socket.IO v5 server. It is an http.Handler: mount it at
// its path ("/socket.io/" by default) on any mux.
type Server struct {
	opts Options
	eio  *engineio.Server

	// mu guards the namespace tables.
	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*Namespace // dynamic namespaces, in registration order
	// childRefs counts the connecting and connected sockets of each child
	// of a dynamic namespace (see childFor); its keys are the children.
	childRefs    map[*Namespace]childRef
	atChildLimit bool // MaxDynamicNamespaces reached and logged
	closed       bool
	done         chan struct{} // closed when Close begins
	closeDone    chan struct{} // closed when Close has returned

	// shutdownMu guards onShutdown.
	shutdownMu sync.Mutex
	onShutdown []func(ctx context.Context)

	counters counters // what Stats reports
	draining atomic.Bool
	client   *clientFiles // Options.ClientFiles, if set

	onNamespace []func(*Namespace) // guarded by mu
}

// NewServer returns a server with the main namespace "/" ready. A nil
// opts means the defaults.
func NewServer(opts *Options) *Server {
	s := &Server{opts: opts.withDefaults(), nsps: map[string]*Namespace{}, childRefs: map[*Namespace]childRef{}, done: make(chan struct{}), closeDone: make(chan struct{})}
	if s.opts.ClientFiles != nil {
		s.client = &clientFiles{files: s.opts.ClientFiles}
	}
	s.eio = engineio.NewServer(engineio.HandlerFunc(func(c *engineio.Conn) engineio.Receiver {
		return newClient(s, c)
	}), &s.opts.Engine)
	s.Of("/")
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.client != nil && s.client.serve(w, r, s.eio.Path()) {
		return
	}
	s.eio.ServeHTTP(w, r)
}

// ConnectionStateRecovery returns the recovery settings, defaults applied,
// or nil when recovery is off. Adapters that store sessions read it.
func (s *Server) ConnectionStateRecovery() *RecoveryOptions { return s.opts.ConnectionStateRecovery }

// Path returns the path the server answers at.
func (s *Server) Path() string { return s.eio.Path() }

// Engine returns the Engine.IO server underneath.
func (s *Server) Engine() *engineio.Server { return s.eio }

// Of returns the namespace with name, creating it if needed. A name
// without a leading slash gets one. A child of a dynamic namespace taken
// with Of is kept when it empties.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.mu.Lock()
	if n := s.nsps[name]; n != nil {
		s.pinLocked(n)
		s.mu.Unlock()
		return n
	}
	n := newNamespace(s, name)
	s.nsps[name] = n
	hooks := s.onNamespace
	s.mu.Unlock()
	for _, h := range hooks {
		h(n)
	}
	return n
}

// OnNamespace calls h with every namespace the server holds now and with
// each one it creates later (children of dynamic namespaces included):
// what instrumentation such as the Admin UI's needs to see every socket.
// h may run while the server holds its namespace table, so it must not
// call Of, Namespaces or OnNamespace; registering handlers on the
// namespace is what it is for.
func (s *Server) OnNamespace(h func(*Namespace)) {
	s.mu.Lock()
	s.onNamespace = append(s.onNamespace[:len(s.onNamespace):len(s.onNamespace)], h)
	existing := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		existing = append(existing, n)
	}
	s.mu.Unlock()
	for _, n := range existing {
		h(n)
	}
}

// Namespaces returns the namespaces the server holds now, children of
// dynamic namespaces included.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// OfFunc registers a dynamic namespace: a client may join any namespace
// name for which match returns true, given the name and the auth payload.
// The returned parent's middleware and connection handlers apply to every
// namespace created through it, and its broadcasts reach all of them.
//
// A child namespace is created on the first CONNECT for its name, within
// Options.MaxDynamicNamespaces, and removed (its adapter closed) when its
// last socket leaves, unless Options.KeepEmptyChildNamespaces is set or it
// was taken with Of.
func (s *Server) OfFunc(match func(name string, auth json.RawMessage) bool) *Namespace {
	parent := &Namespace{name: "(dynamic)", server: s, sockets: map[string]*Socket{}, match: match, children: map[string]*Namespace{}}
	parent.adapter = s.opts.Adapter((*adapterHost)(parent))
	s.mu.Lock()
	s.parents = append(s.parents, parent)
	s.mu.Unlock()
	return parent
}

// OfRegexp registers a dynamic namespace for names matching re.
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	return s.OfFunc(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

// namespaceFor finds the namespace a CONNECT packet asks for, creating a
// child of a matching dynamic namespace if needed. It returns nil if no
// namespace matches. For a child it counts one more user, which the caller
// hands to the socket or gives back with releaseChild.
func (s *Server) namespaceFor(name string, auth json.RawMessage) (*Namespace, *ConnectError) {
	s.mu.RLock()
	n, parents, closed := s.nsps[name], s.parents, s.closed
	_, child := s.childRefs[n]
	s.mu.RUnlock()
	if closed {
		return nil, nil
	}
	if n != nil && !child {
		return n, nil
	}
	if n != nil {
		return s.childFor(n.parent, name)
	}
	for _, p := range parents {
		if p.match(name, auth) {
			return s.childFor(p, name)
		}
	}
	return nil, nil
}

func (n *Namespace) isParent() bool { return n.match != nil }

func (n *Namespace) childList() []*Namespace {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Namespace, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	return out
}

// Use adds middleware to the main namespace.
func (s *Server) Use(m Middleware) { s.Of("/").Use(m) }

// OnConnection registers h for sockets joining the main namespace.
func (s *Server) OnConnection(h func(*Socket)) { s.Of("/").OnConnection(h) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To selects rooms of the main namespace.
func (s *Server) To(rooms ...string) BroadcastOperator { return s.Of("/").To(rooms...) }

// Close disconnects every socket with reason "server shutting down",
// closes every connection and adapter, and waits for the connections to end
// or ctx to be done. Later calls return ErrServerClosed.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	s.draining.Store(true)
	close(s.done)
	nsps := make([]*Namespace, 0, len(s.nsps)+len(s.parents))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	nsps = append(nsps, s.parents...)
	s.mu.Unlock()
	defer close(s.closeDone)
	slices.SortFunc(nsps, func(a, b *Namespace) int { return strings.Compare(a.name, b.name) })
	for _, n := range nsps {
		for _, sock := range n.Sockets() {
			sock.onClose(ReasonServerShuttingDown)
		}
	}
	err := s.eio.Close(ctx)
	for _, n := range nsps {
		err = errors.Join(err, n.adapter.Close())
	}
	return err
}

// RegisterOnShutdown registers f to run when Shutdown begins, before any
// connection closes. Shutdown waits for every f to return; each gets
// Shutdown's context and should return when it is done. Layers above
// Socket.IO use it to stop taking work and finish what is running.
func (s *Server) RegisterOnShutdown(f func(ctx context.Context)) {
	s.shutdownMu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.shutdownMu.Unlock()
}

// Shutdown stops the server gracefully: it runs the functions given to
// RegisterOnShutdown (typed RPC stops taking calls and lets running
// handlers finish until ctx ends) and waits for them, then closes every
// connection as Close does. Clients reconnect elsewhere and, with
// connection state recovery, resume their sessions. Close is the abrupt
// variant.
func (s *Server) Shutdown(ctx context.Context) error {
	// Not ready any more: new connections go to other nodes while the
	// running work finishes here.
	s.draining.Store(true)
	s.eio.StopAccepting()
	s.shutdownMu.Lock()
	hooks := slices.Clone(s.onShutdown)
	s.shutdownMu.Unlock()
	var wg sync.WaitGroup
	for _, f := range hooks {
		wg.Go(func() { f(ctx) })
	}
	wg.Wait()
	return s.Close(ctx)
}

// Ready reports whether the server takes new connections: true until
// Shutdown or Close begins.
func (s *Server) Ready() bool { return !s.draining.Load() }

// ReadinessHandler answers a readiness probe (a load balancer's, or
// Kubernetes' readinessProbe): 200 "ready" while the server takes new
// connections, 503 "draining" once Shutdown or Close has begun.
func (s *Server) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "draining\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}

// ListenAndServe serves the Socket.IO endpoint on addr until Close. It
// returns the listener's error, or nil once Close (or Shutdown) has
// finished.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// indexPage is what Serve answers at "/": the first thing a person opens.
const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Socket.IO server</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>A Socket.IO server is running here</h1>
<p>Clients connect at <code>%s</code>, for example with <code>io("%s")</code> from socket.io-client.</p>
<p>To serve your own pages beside it, mount the server on your own <code>http.ServeMux</code>
(<code>mux.Handle(srv.Path(), srv)</code>) and serve your pages at <code>/</code>.</p>
</body></html>
`

// serveIndex answers "/" with a page saying what this is and how to
// serve one's own pages instead.
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, indexPage, html.EscapeString(s.Path()), html.EscapeString("http://"+r.Host))
}

// Serve serves the Socket.IO endpoint on ln until Close, a short page at
// "/" that says so, and a readiness probe at "/readyz" (ReadinessHandler). The HTTP server has the timeouts of
// engineio.NewHTTPServer. It returns the listener's error, or nil once
// Close (or Shutdown) has finished, not when it begins (unlike
// http.Server.Serve), so that a main that returns when Serve does lets a
// graceful stop hand its sessions over.
func (s *Server) Serve(ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(s.Path(), s)
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.Handle("GET /readyz", s.ReadinessHandler())
	hs := engineio.NewHTTPServer(mux)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	stop := make(chan struct{})
	go func() {
		select {
		case <-s.done:
		case <-stop:
		}
		_ = hs.Close()
	}()
	err := <-errc
	close(stop)
	if errors.Is(err, http.ErrServerClosed) {
		<-s.closeDone
		return nil
	}
	return err
}
