package socketio

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// client is one Engine.IO connection and the sockets it has opened on it,
// one per namespace. It is the connection's engineio.Receiver.
type client struct {
	srv  *Server
	conn *engineio.Conn

	// reasm and dec are only touched on the read goroutine; dec decodes
	// in a custom format (Options.Parser), reasm in the default one.
	reasm siopacket.Reassembler
	dec   sioparser.Decoder

	// mu guards sockets and connectTimer.
	mu sync.Mutex
	// sockets holds one socket per namespace joined: a few at most, so a
	// slice, which an idle connection holds more cheaply than a map.
	sockets      []*Socket
	connectTimer *time.Timer // until the first namespace is joined
}

func newClient(srv *Server, conn *engineio.Conn) *client {
	c := &client{srv: srv, conn: conn}
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	if conn.Protocol() == 3 {
		// A Socket.IO 2 client is on the main namespace from the start
		// and never asks for it. Connecting here, before the session's
		// first message can arrive, keeps CONNECTs on one goroutine.
		c.connect("/", nil)
	}
	return c
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := len(c.sockets) == 0
	c.mu.Unlock()
	if idle {
		c.conn.Close()
	}
}

// OnMessage implements engineio.Receiver.
func (c *client) OnMessage(data []byte, binary bool) {
	if parser := c.srv.opts.Parser; parser != nil {
		c.decodeWith(parser, data, binary)
		return
	}
	if binary {
		p, done, err := c.reasm.Add(data)
		if err != nil {
			c.protocolError(err)
		} else if done {
			c.dispatch(&p)
		}
		return
	}
	if c.reasm.Waiting() {
		c.reasm.Reset()
		c.protocolError(siopacket.ErrInvalid)
		return
	}
	p, n, err := siopacket.DecodeText(data, siopacket.Limits{MaxAttachments: c.srv.opts.MaxAttachments})
	if err != nil {
		c.protocolError(err)
		return
	}
	if p.Type == siopacket.Connect && c.conn.Protocol() == 3 {
		p.Namespace, p.Data = splitQueryV3(p.Namespace)
	}
	if n > 0 {
		c.reasm.Start(p)
		return
	}
	// p.Data aliases data, valid only during this call: parsing arguments
	// copies them, and connect copies the auth payload it keeps.
	c.dispatch(&p)
}

// OnClose implements engineio.Receiver.
func (c *client) OnClose(reason engineio.CloseReason, _ error) {
	c.mu.Lock()
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	c.mu.Unlock()
	for _, s := range c.socketList() {
		s.onClose(DisconnectReason(reason))
	}
}

// protocolError closes the connection after a packet that breaks the
// protocol; every socket on it leaves with "parse error".
func (c *client) protocolError(err error) {
	c.srv.opts.Logger.Debug("socketio: protocol violation", "sid", c.conn.ID(), "remote", c.conn.RemoteAddr(), "err", err)
	for _, s := range c.socketList() {
		s.onClose(ReasonParseError)
	}
	c.conn.Close()
}

func (c *client) socketList() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sockets)
}

// socketLocked returns the socket on namespace name, or nil.
func (c *client) socketLocked(name string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

func (c *client) dispatch(p *siopacket.Packet) {
	c.mu.Lock()
	s := c.socketLocked(p.Namespace)
	c.mu.Unlock()
	switch {
	case s == nil && p.Type == siopacket.Connect:
		c.connect(p.Namespace, p.Data)
	case s != nil && p.Type != siopacket.Connect && p.Type != siopacket.ConnectError:
		s.onPacket(p)
	default:
		// A packet for a namespace not joined, a second CONNECT, or a
		// CONNECT_ERROR (which only servers send): the client has lost
		// track of its state, and the reference closes the connection.
		c.wrongState(p)
	}
}

// wrongState closes the connection after a packet that does not fit its
// state; every socket on it leaves with "forced server close", as in the
// reference.
func (c *client) wrongState(p *siopacket.Packet) {
	c.srv.opts.Logger.Debug("socketio: packet does not fit the connection's state",
		"sid", c.conn.ID(), "remote", c.conn.RemoteAddr(), "nsp", p.Namespace, "type", p.Type.String())
	for _, s := range c.socketList() {
		s.onClose(ReasonForcedServerClose)
	}
	c.conn.Close()
}

// connect handles a CONNECT packet: it finds (or creates) the namespace,
// runs its middleware and, if accepted, opens the socket.
func (c *client) connect(name string, auth json.RawMessage) {
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	} else {
		auth = bytes.Clone(auth) // kept in the handshake; the frame buffer is reused
	}
	c.mu.Lock()
	joined := len(c.sockets)
	c.mu.Unlock()
	// CONNECTs are handled one at a time on the read goroutine, so the
	// count cannot grow between this check and the socket's joining.
	if max := c.srv.opts.MaxNamespacesPerConnection; max > 0 && joined >= max {
		c.srv.opts.Logger.Debug("socketio: namespace refused", "sid", c.conn.ID(), "remote", c.conn.RemoteAddr(), "nsp", name, "err", errTooManyForConnection)
		c.sendConnectError(name, errTooManyForConnection.Message, nil)
		return
	}
	nsp, refused := c.srv.namespaceFor(name, auth)
	if refused != nil {
		c.srv.opts.Logger.Debug("socketio: namespace refused", "sid", c.conn.ID(), "remote", c.conn.RemoteAddr(), "nsp", name, "err", refused)
		c.sendConnectError(name, refused.Message, nil)
		return
	}
	if nsp == nil {
		c.sendConnectError(name, "Invalid namespace", nil)
		return
	}
	s := &Socket{id: c.newSocketID(name), nsp: nsp, client: c, handshake: c.handshake(auth)}
	store, claim := c.recoveryClaim(nsp, auth)
	var session sioadapter.Session
	recovered := false
	if store != nil {
		takeOver(c, nsp, claim.PID)
		session, recovered = store.RestoreSession(claim.PID, claim.Offset)
	}
	if recovered {
		s.id, s.pid, s.recovered = session.SID, session.PID, true
		s.data = session.Data
	} else if c.srv.opts.ConnectionStateRecovery != nil {
		s.pid = newPrivateID()
	}
	// A recovered session was vetted when it first connected.
	var err error
	if !recovered || c.srv.opts.ConnectionStateRecovery.RunMiddlewares {
		err = nsp.runMiddleware(s)
	}
	if err != nil {
		// Middleware may have joined rooms before a later one refused.
		s.joinMu.Lock()
		s.left = true
		s.joinMu.Unlock()
		nsp.adapter.DelAll(s.id)
		msg, data := err.Error(), any(nil)
		if ce, ok := err.(*ConnectError); ok {
			msg, data = ce.Message, ce.Data
		}
		if c.conn.Protocol() == 3 {
			c.sendErrorV3(name, msg, data)
		} else {
			c.sendConnectError(name, msg, data)
		}
		c.srv.releaseChild(nsp)
		return
	}
	// From here on what reaches the socket waits until its CONNECT (and
	// the broadcasts it missed) are sent.
	s.hold.Store(newHoldQueue())
	s.connected = true
	c.mu.Lock()
	c.sockets = append(c.sockets, s)
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
	nsp.add(s)
	s.Join(s.id)
	var missed []*siopacket.Packet
	if recovered {
		s.Join(session.Rooms...)
		// Read only now that the socket is in its rooms: a broadcast
		// recorded meanwhile is either read here or held, or both.
		if missed, err = store.MissedSince(claim.Offset, session.Rooms); err != nil {
			// Resumed without them, the session would lie: start afresh.
			c.srv.opts.Logger.Warn("socketio: session not recovered: its missed broadcasts cannot be read", "sid", s.id, "nsp", name, "err", err)
			nsp.adapter.DelAll(s.id)
			nsp.remove(s)
			s.hold.Load().clear()
			s.id, s.pid, s.recovered, s.data = c.newSocketID(name), newPrivateID(), false, nil
			nsp.add(s)
			s.Join(s.id)
		}
	}

	// Saved before the client learns of the session, so that a crash
	// after the CONNECT leaves it recoverable on another node.
	s.keepLive()
	var payload []byte // a Socket.IO 2 client's CONNECT carries nothing
	if c.conn.Protocol() != 3 {
		payload, _ = json.Marshal(struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{s.id, s.pid})
	}
	_ = c.conn.Send(c.srv.packetMessages(&siopacket.Packet{Type: siopacket.Connect, Namespace: name, Data: payload})...)
	var sent map[string]bool // offsets of the missed broadcasts, when recovered
	if len(missed) > 0 {
		sent = make(map[string]bool, len(missed))
	}
	for _, p := range missed {
		sent[packetOffset(p)] = true
		_ = c.conn.Send(c.srv.packetMessages(p)...)
	}
	if q := s.hold.Load(); q.release(c.conn, sent) {
		s.hold.Store(nil) // every send goes straight through from now on
	}
	// Only now may a later claim of the session end the socket: one that
	// ended it while connecting would race the steps above.
	nsp.addPID(s)
	c.srv.counters.connected.Add(1)
	if s.recovered {
		c.srv.counters.recovered.Add(1)
	}
	for _, h := range nsp.connectionHandlers() {
		s.guard("connection handler", func() { h(s) })
	}
}

// recoveryClaim returns the session a reconnecting client presents (auth
// fields "pid" and "offset", as socket.io-client sends them), with the
// store to restore it from, if the server recovers connections; a nil
// store otherwise.
func (c *client) recoveryClaim(nsp *Namespace, auth json.RawMessage) (sioadapter.SessionStore, sessionClaim) {
	store, ok := nsp.adapter.(sioadapter.SessionStore)
	if c.srv.opts.ConnectionStateRecovery == nil || !ok {
		return nil, sessionClaim{}
	}
	var claim sessionClaim
	if json.Unmarshal(auth, &claim) != nil || claim.PID == "" || claim.Offset == "" {
		return nil, sessionClaim{}
	}
	return store, claim
}

// takeOver ends the socket of this node that holds session pid on
// another connection, as a lost connection, and waits until it has left:
// its session is then persisted, ready for the restore that follows, and
// its handlers have seen a recoverable reason (rpc streams park). The pid
// was sent to that client alone, so a claim of it means the client has
// given the old connection up, though the server may not have seen it end
// yet: a half-open TCP connection lingers until the ping timeout, and a
// fast reconnection can overtake the close. The old connection, if that
// socket was its last, is closed too; its other namespaces stay, each
// session claimed on its own. The socket ends even if the restore then
// fails (an offset no longer kept): its client has left it either way. A
// pid held by no socket here changes nothing.
func takeOver(c *client, nsp *Namespace, pid string) {
	old := nsp.socketByPID(pid)
	if old == nil || old.client == c {
		return
	}
	// Two claims at once both land here: onClose runs once, and both wait
	// for it; the store then gives the session to one of them.
	old.onClose(ReasonTransportClose)
	old.waitLeft()
	c.srv.opts.Logger.Debug("socketio: session claimed from another connection", "sid", old.id, "nsp", nsp.name,
		"old", old.client.conn.ID(), "new", c.conn.ID())
	if len(old.client.socketList()) == 0 {
		old.client.conn.Close()
	}
}

// sessionClaim is what a client presents to resume its session.
type sessionClaim struct {
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

func (c *client) sendConnectError(nsp, message string, data any) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{message, data}
	payload, err := json.Marshal(body)
	if err != nil {
		payload, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{message})
	}
	_ = c.conn.Send(c.srv.packetMessages(&siopacket.Packet{Type: siopacket.ConnectError, Namespace: nsp, Data: payload})...)
}

// sendErrorV3 refuses a Socket.IO 2 client's namespace after its middleware
// failed: that client takes an ERROR packet whose data is the error's data,
// or its message if it has none.
func (c *client) sendErrorV3(nsp, message string, data any) {
	payload, err := json.Marshal(data)
	if data == nil || err != nil {
		payload, _ = json.Marshal(message)
	}
	_ = c.conn.Send(engineio.Message{Data: siopacket.AppendText(nil, &siopacket.Packet{Type: siopacket.ConnectError, Namespace: nsp, Data: payload})})
}

// newSocketID returns the id of a new socket on namespace nsp. For a
// Socket.IO 2 client it is derived from the Engine.IO session id, as that
// client computes it ("/nsp#sid", or the session id on "/"), which the
// reference does too; otherwise it is random and reveals nothing of the
// session id.
func (c *client) newSocketID(nsp string) string {
	if c.conn.Protocol() != 3 {
		return newSocketID()
	}
	if nsp == "/" {
		return c.conn.ID()
	}
	return nsp + "#" + c.conn.ID()
}

// splitQueryV3 splits the namespace of a Socket.IO 2 client's CONNECT,
// which carries the client's query ("/chat?token=abc"), into the namespace
// and the auth payload the reference makes of the query: an object of its
// parameters, the last value of a repeated one.
func splitQueryV3(nsp string) (string, json.RawMessage) {
	path, query, _ := strings.Cut(nsp, "?")
	values, _ := url.ParseQuery(query)
	auth := make(map[string]string, len(values))
	for k, v := range values {
		auth[k] = v[len(v)-1]
	}
	payload, _ := json.Marshal(auth)
	return path, payload
}

func (c *client) handshake(auth json.RawMessage) Handshake {
	r := c.conn.Request()
	now := time.Now()
	h := Handshake{Time: now, Issued: now.UnixMilli(), Auth: auth}
	if r != nil {
		h.HeaderFunc = c.conn.Header
		h.Address = r.RemoteAddr
		h.XDomain = r.Header.Get("Origin") != ""
		h.Secure = r.TLS != nil
		h.URL = c.conn.RequestURI()
	}
	return h
}

// remove forgets a socket that left its namespace, and gives back its
// count on a dynamic namespace's child.
func (c *client) remove(s *Socket) {
	c.mu.Lock()
	i := slices.Index(c.sockets, s)
	if i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
	if i >= 0 {
		c.srv.releaseChild(s.nsp)
	}
}

// disconnectAll disconnects every socket of the connection, then closes it.
func (c *client) disconnectAll() {
	for _, s := range c.socketList() {
		s.Disconnect(false)
	}
	c.conn.Close()
}
