package engineio

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// Handler is told of every new session.
type Handler interface {
	// ServeConn is called once per session, on the goroutine serving the
	// handshake, before any of the session's messages is delivered. It
	// returns the Receiver for the session and must not block.
	ServeConn(c *Conn) Receiver
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn) Receiver

// ServeConn calls f(c).
func (f HandlerFunc) ServeConn(c *Conn) Receiver { return f(c) }

// Server is an Engine.IO v4 server. It is an http.Handler: mount it on any
// mux at Options.Path. Create it with NewServer.
type Server struct {
	opts     Options
	handler  Handler
	upgrader websocket.Upgrader
	limits   connLimits // every session's, from opts

	// mu guards the session table and the closed flag.
	mu       sync.Mutex
	sessions map[string]*Conn
	closed   bool
	// live counts sessions whose OnClose has not returned yet; Close waits
	// for it to reach zero.
	live sync.WaitGroup

	counters counters    // what Stats reports
	refusing atomic.Bool // StopAccepting was called: handshakes get 503
}

// NewServer returns a server that hands every new session to h. A nil opts
// means the defaults.
func NewServer(h Handler, opts *Options) *Server {
	s := &Server{
		opts:     opts.withDefaults(),
		handler:  h,
		sessions: make(map[string]*Conn),
	}
	s.limits = connLimits{
		pingInterval: s.opts.PingInterval,
		pingTimeout:  s.opts.PingTimeout,
		maxPending:   s.opts.MaxPendingBytes,
		writeTimeout: s.opts.WriteTimeout,
		maxPayload:   s.opts.MaxHTTPBufferSize,
	}
	s.upgrader = websocket.Upgrader{
		// 0: gorilla reads through the batchConn's reader (batchWriter.Hijack).
		ReadBufferSize:    0,
		WriteBufferPool:   writeBufPool,
		EnableCompression: s.opts.PerMessageDeflate,
		// Like the reference server, WebSocket connections are not vetted
		// by origin; AllowRequest is the place for such a policy.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, _ int, _ error) {
			writeError(w, codeBadRequest, "")
		},
	}
	return s
}

// Path returns the path the server answers at, with its trailing slash.
func (s *Server) Path() string { return s.opts.Path }

// MaxHTTPBufferSize returns the largest message or polling payload, in
// bytes, that the server accepts (Options.MaxHTTPBufferSize, defaults
// applied).
func (s *Server) MaxHTTPBufferSize() int64 { return s.opts.MaxHTTPBufferSize }

// ServeHTTP answers Engine.IO requests: handshakes, polling GETs and POSTs,
// and WebSocket connections and upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.opts.Path) {
		http.NotFound(w, r)
		return
	}
	if s.opts.CORS != nil && s.applyCORS(w, r) {
		return
	}
	q := r.URL.Query()
	// Like the reference, anything but "4" is revision 3.
	eio3 := q.Get("EIO") != "4"
	if eio3 && !s.opts.AllowEIO3 {
		s.refuse(w, r, codeUnsupportedVersion, "")
		return
	}
	transport := q.Get("transport")
	if !s.opts.allows(transport) {
		s.refuse(w, r, codeUnknownTransport, "")
		return
	}
	isUpgrade := websocket.IsWebSocketUpgrade(r)
	if (transport == TransportWebSocket) != isUpgrade {
		s.refuse(w, r, codeBadRequest, "")
		return
	}
	// The constant, not the query's string: that is a slice of the
	// request line, which a session would otherwise keep alive.
	transport = TransportPolling
	if isUpgrade {
		transport = TransportWebSocket
	}
	sid := q.Get("sid")
	if sid == "" {
		s.handshake(w, r, transport, eio3, q.Has("b64"))
		return
	}
	c := s.lookup(sid)
	if c == nil {
		s.refuse(w, r, codeUnknownSID, "")
		return
	}
	if isUpgrade {
		if s.opts.DisableUpgrades {
			s.refuse(w, r, codeBadRequest, "")
			return
		}
		bw := &batchWriter{ResponseWriter: w}
		ws, err := s.upgrader.Upgrade(bw, r, nil)
		if err != nil {
			s.opts.Logger.Debug("engineio: WebSocket upgrade refused", "remote", r.RemoteAddr, "sid", sid, "err", err)
			return // the upgrader has answered
		}
		s.prepareWebSocket(ws, bw.conn, r)
		// serveProbe closes ws at once if the session has upgraded already
		// or is upgrading on another connection, as the reference does.
		c.serveProbe(ws, bw.conn, q.Has("b64"))
		return
	}
	if c.Transport() != TransportPolling {
		s.refuse(w, r, codeBadRequest, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.servePoll(w, r)
	case http.MethodPost:
		c.servePost(w, r)
	default:
		s.refuse(w, r, codeBadRequest, "")
	}
}

// refuse answers r with an Engine.IO error, and logs why at debug level.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, message string) {
	s.opts.Logger.Debug("engineio: request refused", "remote", r.RemoteAddr, "method", r.Method,
		"transport", r.URL.Query().Get("transport"), "sid", r.URL.Query().Get("sid"), "code", code, "reason", codeMessages[code])
	writeError(w, code, message)
}

// prepareWebSocket applies the server's limits to a new WebSocket and
// decides who frames its data messages (batchConn.ownFrames).
func (s *Server) prepareWebSocket(ws *websocket.Conn, bc *batchConn, r *http.Request) {
	ws.SetReadLimit(s.opts.MaxHTTPBufferSize)
	bc.ownFrames = !s.opts.PerMessageDeflate || !offersDeflate(r.Header)
}

// StopAccepting makes the server refuse new sessions (503, "server is
// shutting down") while the open ones go on: the first step of a drain,
// so that clients connect to another node while this one finishes its
// work. Close refuses them too.
func (s *Server) StopAccepting() { s.refusing.Store(true) }

// handshake opens a new session on the requested transport.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string, eio3, base64 bool) {
	if s.refusing.Load() {
		s.opts.Logger.Debug("engineio: handshake refused while draining", "remote", r.RemoteAddr)
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if transport == TransportPolling && r.Method != http.MethodGet {
		s.refuse(w, r, codeBadHandshakeMethod, "")
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			status, msg := http.StatusForbidden, err.Error()
			if re, ok := errors.AsType[*RequestError](err); ok {
				msg = re.Message
				if re.Status != 0 {
					status = re.Status
				}
			}
			s.opts.Logger.Debug("engineio: handshake refused by AllowRequest", "remote", r.RemoteAddr, "status", status, "err", err)
			writeErrorStatus(w, status, codeForbidden, msg)
			return
		}
	}
	id := s.newID(r)
	if s.opts.Cookie != nil {
		ck := s.opts.Cookie
		http.SetCookie(w, &http.Cookie{Name: ck.Name, Value: id, Path: ck.Path, HttpOnly: ck.HTTPOnly,
			SameSite: ck.SameSite, Secure: ck.Secure, MaxAge: ck.MaxAge})
	}
	upgrades := []string{}
	if transport == TransportPolling && !s.opts.DisableUpgrades && s.opts.allows(TransportWebSocket) {
		upgrades = append(upgrades, TransportWebSocket)
	}
	open, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{id, upgrades, s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxHTTPBufferSize})
	openPacket := append([]byte{'0'}, open...)

	var ws *websocket.Conn
	var batch *batchConn
	if transport == TransportWebSocket {
		bw := &batchWriter{ResponseWriter: w}
		var err error
		if ws, err = s.upgrader.Upgrade(bw, r, w.Header()); err != nil {
			s.opts.Logger.Debug("engineio: WebSocket handshake refused", "remote", r.RemoteAddr, "err", err)
			return
		}
		s.prepareWebSocket(ws, bw.conn, r)
		batch = bw.conn
	}
	c := &Conn{
		id:        id,
		srv:       s,
		handshake: keepHandshake(r),
		transport: transport,
		limits:    &s.limits,
		eio3:      eio3,
		counted:   true,
	}
	s.counters.sessions(transport).Add(1)
	var wst *wsTransport
	if ws == nil {
		c.poll = &serverPolling{wake: make(chan struct{}, 1), base64: eio3 && base64}
	} else {
		wst = newWSTransport(ws, batch, eio3, base64)
		wst.initIdle(c)
		c.push = wst
		c.writing = true // the open packet goes first, written below
	}
	// Hold recvMu until the receiver is set: nothing can be delivered to
	// the session, not even its close, before ServeConn has returned.
	c.recvMu.Lock()
	c.startHeartbeat()
	if !s.register(c) {
		s.counters.sessions(transport).Add(-1)
		c.stopTimer()
		c.recvMu.Unlock()
		if ws != nil {
			_ = ws.Close()
		} else {
			http.Error(w, "server closed", http.StatusServiceUnavailable)
		}
		return
	}
	c.recv = s.handler.ServeConn(c)
	c.recvMu.Unlock()

	if ws == nil {
		if eio3 {
			// A payload of one packet, framed as that revision frames
			// payloads.
			openPacket, _ = eiopacket.AppendPayloadV3(nil, []eiopacket.Packet{{Type: eiopacket.Open, Data: open}}, false)
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		h.Set("Content-Length", strconv.Itoa(len(openPacket)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(openPacket)
		return
	}
	_ = ws.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, openPacket); err != nil {
		c.closeNow(ReasonTransportError, err)
		return
	}
	c.mu.Lock()
	c.handOverWriterLocked()
	c.mu.Unlock()
	// Read from a goroutine of our own and let ServeHTTP return, so that
	// the HTTP server's per-connection state (buffers, a deep stack) is
	// freed: it is most of an idle connection's memory otherwise.
	go c.readLoop(wst)
}

// handshake is what a session keeps of its handshake request: not the
// body, and not the context, whose chain reaches back into the HTTP
// server's per-connection state. Every idle connection holds one, so it is
// compact: its strings in one block, the header block as text rather than
// a map of slices, which is several times larger, and the URL as the
// request URI it was parsed from; request parses them when asked.
type handshake struct {
	// block is the method, request URI, protocol, host and remote address,
	// then the header block ("Key: value\r\n" lines, then "\r\n"); ends
	// are where each of the first five ends in it.
	block string
	ends  [5]uint32
	// url is the request's URL when it is not what the request URI parses
	// to (a handler before ours rewrote it); nil otherwise.
	url *url.URL
	tls *tls.ConnectionState
}

// The fields of a handshake's block, by their index in ends.
const (
	hsMethod = iota
	hsRequestURI
	hsProto
	hsHost
	hsRemoteAddr
)

func keepHandshake(r *http.Request) *handshake {
	var b strings.Builder
	h := &handshake{tls: r.TLS}
	for i, field := range [...]string{r.Method, r.RequestURI, r.Proto, r.Host, r.RemoteAddr} {
		b.WriteString(field)
		h.ends[i] = uint32(b.Len())
	}
	_ = r.Header.Write(&b)
	b.WriteString("\r\n")
	h.block = strings.Clone(b.String()) // no builder slack
	if u, err := url.ParseRequestURI(r.RequestURI); err != nil || r.URL == nil || *u != *r.URL {
		h.url = r.URL
	}
	return h
}

// field returns one of the block's first five strings.
func (h *handshake) field(i int) string {
	start := uint32(0)
	if i > 0 {
		start = h.ends[i-1]
	}
	return h.block[start:h.ends[i]]
}

func (h *handshake) remoteAddr() string { return h.field(hsRemoteAddr) }
func (h *handshake) requestURI() string { return h.field(hsRequestURI) }
func (h *handshake) header() string     { return h.block[h.ends[hsRemoteAddr]:] }

// requestURL returns the handshake request's URL, a fresh copy.
func (h *handshake) requestURL() *url.URL {
	if h.url != nil {
		u := *h.url
		return &u
	}
	u, err := url.ParseRequestURI(h.requestURI())
	if err != nil {
		return &url.URL{}
	}
	return u
}

// parseHeader parses the kept header block.
func (h *handshake) parseHeader() http.Header {
	block := h.header()
	tp := textproto.NewReader(bufio.NewReaderSize(strings.NewReader(block), len(block)))
	header, err := tp.ReadMIMEHeader()
	if err != nil || header == nil {
		return http.Header{}
	}
	return http.Header(header)
}

// request rebuilds the handshake request.
func (h *handshake) request() *http.Request {
	proto := h.field(hsProto)
	major, minor, _ := http.ParseHTTPVersion(proto)
	return &http.Request{
		Method:     h.field(hsMethod),
		URL:        h.requestURL(),
		Proto:      proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     h.parseHeader(),
		Host:       h.field(hsHost),
		RemoteAddr: h.remoteAddr(),
		RequestURI: h.requestURI(),
		TLS:        h.tls,
		Body:       http.NoBody,
	}
}

func (s *Server) newID(r *http.Request) string {
	if s.opts.GenerateID != nil {
		return s.opts.GenerateID(r)
	}
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, dup := s.sessions[c.id]; dup {
		return false
	}
	s.sessions[c.id] = c
	s.live.Add(1)
	return true
}

// lookup finds a session by id. A session whose heartbeat has failed is
// closed with "ping timeout" and not returned.
func (s *Server) lookup(id string) *Conn {
	s.mu.Lock()
	c := s.sessions[id]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	expired := c.expiredLocked(time.Now())
	c.mu.Unlock()
	if expired {
		c.closeNow(ReasonPingTimeout, nil)
		return nil
	}
	return c
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	if s.sessions[c.id] == c {
		delete(s.sessions, c.id)
	}
	s.mu.Unlock()
}

func (s *Server) sessionDone() { s.live.Done() }

// Len returns the number of open sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close stops accepting sessions and closes every open one with reason
// "server shutting down", letting each flush what it has queued. It waits
// until every session's OnClose has returned or ctx is done; in the latter
// case the remaining sessions are cut off and ctx's error is returned.
// Calls after the first return ErrServerClosed.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.closeGracefully(ReasonServerShutdown)
	}
	done := make(chan struct{})
	go func() {
		s.live.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.closeNow(ReasonServerShutdown, nil)
		}
		<-done
		return ctx.Err()
	}
}
