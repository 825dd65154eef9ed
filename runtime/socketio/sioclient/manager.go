package sioclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// Errors reported by the client.
var (
	ErrClosed = errors.New("sioclient: manager closed")
	// ErrDisconnected fails an ack still awaited when the connection was
	// lost (the event may or may not have reached the server), and an ack
	// answered after it.
	ErrDisconnected = errors.New("sioclient: socket disconnected")
	// ErrNotConnected fails a Try emit made while the socket is not
	// connected: nothing was sent.
	ErrNotConnected = errors.New("sioclient: socket not connected")
	// ErrTooLarge fails a Try emit with a message over the server's limit:
	// nothing was sent, and the connection stays up.
	ErrTooLarge   = errors.New("sioclient: message larger than the server accepts")
	ErrAckTimeout = errors.New("sioclient: ack timed out")
	ErrAcked      = errors.New("sioclient: ack already sent")
	ErrReserved   = errors.New("sioclient: reserved event name")
)

// managerState is where the manager's connection is.
type managerState int

const (
	stateIdle       managerState = iota // no connection, none wanted yet
	stateConnecting                     // dialling
	stateOpen                           // connected
	stateClosed                         // Close was called
)

func (s managerState) String() string {
	return [...]string{"idle", "connecting", "open", "closed"}[s]
}

// Manager owns one Engine.IO connection and the sockets, one per
// namespace, multiplexed over it. It reconnects with exponential backoff
// when the connection is lost, unless the server or the client ended it.
//
// Handlers of all its sockets run one at a time, on the goroutine reading
// the connection (or, for connection events, the goroutine that dialled).
// A handler that blocks stalls the connection: do not wait for an ack
// inside one.
type Manager struct {
	url  string // scheme and host
	opts Options
	// ctx is the manager's root context: Close cancels it, which aborts
	// any dial in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards everything below. conn and gen change under it, and are
	// read without it by every emit and every message received.
	mu        sync.Mutex
	state     managerState
	conn      atomic.Pointer[engineio.Conn]
	gen       atomic.Int64 // counts connections, so that a stale one's callbacks are ignored
	connDone  chan struct{}
	sockets   map[string]*Socket
	backoff   backoff
	timer     *time.Timer // pending reconnection attempt
	reconnect bool        // reconnecting after a loss
	skip      bool        // the end was wanted: do not reconnect
	dialing   sync.WaitGroup
	listeners managerListeners
}

type managerListeners struct {
	attempt []func(attempt int)
	ok      []func(attempt int)
	err     []func(err error)
	failed  []func()
}

// NewManager returns a manager for the server at rawURL (http, https, ws or
// wss; a path in it is ignored, the namespace is chosen per socket). It
// connects when its first socket does.
func NewManager(rawURL string, opts *Options) (*Manager, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sioclient: bad URL: %w", err)
	}
	o := opts.withDefaults()
	m := &Manager{url: u.Scheme + "://" + u.Host, opts: o, sockets: map[string]*Socket{}}
	m.ctx, m.cancel = context.WithCancel(context.Background()) //sio:root-context: a manager lives until Close
	m.backoff = backoff{min: o.ReconnectionDelay, max: o.ReconnectionDelayMax, jitter: o.RandomizationFactor}
	return m, nil
}

// Socket returns the manager's socket for namespace nsp, creating it. It
// does not connect: register handlers, then call Connect.
func (m *Manager) Socket(nsp string, opts *SocketOptions) *Socket {
	if !strings.HasPrefix(nsp, "/") {
		nsp = "/" + nsp
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sockets[nsp]; s != nil {
		return s
	}
	s := &Socket{m: m, nsp: nsp}
	if opts != nil {
		s.opts = *opts
	}
	m.sockets[nsp] = s
	return s
}

// OnReconnectAttempt registers h for each reconnection attempt.
func (m *Manager) OnReconnectAttempt(h func(attempt int)) {
	m.mu.Lock()
	m.listeners.attempt = append(m.listeners.attempt, h)
	m.mu.Unlock()
}

// OnReconnect registers h for a successful reconnection.
func (m *Manager) OnReconnect(h func(attempt int)) {
	m.mu.Lock()
	m.listeners.ok = append(m.listeners.ok, h)
	m.mu.Unlock()
}

// OnReconnectError registers h for a failed reconnection attempt.
func (m *Manager) OnReconnectError(h func(err error)) {
	m.mu.Lock()
	m.listeners.err = append(m.listeners.err, h)
	m.mu.Unlock()
}

// Reconnects reports whether the manager reconnects after a lost
// connection (Options.DisableReconnection is not set).
func (m *Manager) Reconnects() bool { return !m.opts.DisableReconnection }

// OnReconnectFailed registers h for when ReconnectionAttempts run out.
func (m *Manager) OnReconnectFailed(h func()) {
	m.mu.Lock()
	m.listeners.failed = append(m.listeners.failed, h)
	m.mu.Unlock()
}

// Engine returns the current Engine.IO connection, nil if there is none.
func (m *Manager) Engine() *engineio.Conn { return m.conn.Load() }

// Close disconnects every socket, closes the connection, stops
// reconnecting, and waits for the manager's goroutines to end.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.state == stateClosed {
		m.mu.Unlock()
		return ErrClosed
	}
	socks := m.socketListLocked()
	m.mu.Unlock()
	for _, s := range socks {
		s.Disconnect()
	}
	m.mu.Lock()
	m.state, m.skip = stateClosed, true
	if m.timer != nil {
		m.timer.Stop()
	}
	conn, done := m.conn.Load(), m.connDone
	m.mu.Unlock()
	m.cancel()
	if conn != nil {
		conn.Close()
		<-done
	}
	m.dialing.Wait()
	return nil
}

func (m *Manager) socketListLocked() []*Socket {
	out := make([]*Socket, 0, len(m.sockets))
	for _, s := range m.sockets {
		out = append(out, s)
	}
	return out
}

// open starts a connection unless one is open or being made.
func (m *Manager) open() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != stateIdle || m.reconnect {
		return
	}
	m.startDialLocked(false)
}

// startDialLocked dials in the background; attempt says whether this is a
// reconnection attempt (reported to the reconnect listeners).
func (m *Manager) startDialLocked(attempt bool) {
	m.state = stateConnecting
	m.skip = false
	gen := m.gen.Add(1)
	link := &link{m: m, gen: gen}
	opts := &engineio.DialOptions{
		Path:           m.opts.Path,
		Query:          m.opts.Query,
		Header:         m.opts.Header,
		Transports:     m.opts.Transports,
		DisableUpgrade: m.opts.DisableUpgrade,
		TLSConfig:      m.opts.TLSConfig,
		HTTPClient:     m.opts.HTTPClient,
	}
	m.dialing.Add(1)
	go func() {
		defer m.dialing.Done()
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.Timeout)
		defer cancel()
		conn, err := engineio.Dial(ctx, m.url, link, opts)
		m.onDialed(gen, conn, err, attempt)
	}()
}

func (m *Manager) onDialed(gen int64, conn *engineio.Conn, err error, attempt bool) {
	m.mu.Lock()
	if gen != m.gen.Load() || m.state != stateConnecting {
		m.mu.Unlock()
		if conn != nil {
			conn.Close()
		}
		return
	}
	if err != nil {
		m.state = stateIdle
		socks := m.socketListLocked()
		l := m.listeners
		m.mu.Unlock()
		if attempt {
			for _, h := range l.err {
				h(err)
			}
		}
		for _, s := range socks {
			if s.isActive() {
				s.onConnectError(fmt.Errorf("sioclient: connection failed: %w", err))
			}
		}
		m.mu.Lock()
		m.reconnect = false
		m.maybeReconnectLocked()
		m.mu.Unlock()
		return
	}
	m.state, m.connDone = stateOpen, make(chan struct{})
	m.conn.Store(conn)
	m.reconnect = false
	n := m.backoff.attempts
	m.backoff.reset()
	socks := m.socketListLocked()
	l := m.listeners
	m.mu.Unlock()
	if attempt {
		for _, h := range l.ok {
			h(n)
		}
	}
	for _, s := range socks {
		s.onOpen()
	}
}

// maybeReconnectLocked schedules the next attempt after a failure or a
// loss, if reconnection is on and wanted.
func (m *Manager) maybeReconnectLocked() {
	if m.opts.DisableReconnection || m.skip || m.state == stateClosed || m.reconnect || !m.anyActiveLocked() {
		return
	}
	if m.opts.ReconnectionAttempts > 0 && m.backoff.attempts >= m.opts.ReconnectionAttempts {
		m.backoff.reset()
		failed := m.listeners.failed
		go func() {
			for _, h := range failed {
				h()
			}
		}()
		return
	}
	m.reconnect = true
	delay := m.backoff.next()
	attempt := m.backoff.attempts
	m.timer = time.AfterFunc(delay, func() {
		m.mu.Lock()
		if m.state == stateClosed || m.skip || !m.reconnect {
			m.mu.Unlock()
			return
		}
		listeners := m.listeners.attempt
		m.mu.Unlock()
		// As in the reference client, the attempt is announced before it is
		// made, so that it is counted before it can fail.
		for _, h := range listeners {
			h(attempt)
		}
		m.mu.Lock()
		if m.state != stateClosed && !m.skip && m.reconnect {
			m.startDialLocked(true)
		}
		m.mu.Unlock()
	})
}

func (m *Manager) anyActiveLocked() bool {
	for _, s := range m.sockets {
		if s.isActive() {
			return true
		}
	}
	return false
}

// socketLeft closes the connection once no socket wants it any more.
func (m *Manager) socketLeft() {
	m.mu.Lock()
	if m.anyActiveLocked() {
		m.mu.Unlock()
		return
	}
	m.skip = true
	m.reconnect = false
	if m.timer != nil {
		m.timer.Stop()
	}
	conn := m.conn.Load()
	if m.state == stateConnecting {
		m.gen.Add(1) // forget the dial in flight
		m.state = stateIdle
	}
	m.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// encode turns a packet into the Engine.IO messages that carry it, in the
// manager's format.
func (m *Manager) encode(p *siopacket.Packet) ([]engineio.Message, error) {
	if m.opts.Parser == nil {
		return encode(p), nil
	}
	return m.opts.Parser.Encode(p)
}

// encodeEvent appends the messages of an event to msgs, in the manager's
// format.
func (m *Manager) encodeEvent(msgs []engineio.Message, nsp, event string, args []any, ackID *uint64) ([]engineio.Message, error) {
	if m.opts.Parser == nil {
		return encodeEvent(msgs, nsp, event, args, ackID)
	}
	p, err := siopacket.NewEvent(nsp, event, args)
	if err != nil {
		return msgs, err
	}
	if ackID != nil {
		p.ID, p.HasID = *ackID, true
	}
	out, err := m.opts.Parser.Encode(&p)
	return append(msgs, out...), err
}

// send queues an encoded packet on the connection.
func (m *Manager) send(msgs []engineio.Message, volatile bool) bool {
	conn := m.conn.Load()
	if conn == nil {
		return false
	}
	if volatile {
		return conn.SendVolatile(msgs...)
	}
	return conn.Send(msgs...) == nil
}

// sendChecked queues an encoded packet on the connection if there is one
// and the server accepts each of its messages: ErrNotConnected or
// ErrTooLarge otherwise.
func (m *Manager) sendChecked(msgs []engineio.Message) error {
	conn := m.conn.Load()
	if conn == nil {
		return ErrNotConnected
	}
	if limit := conn.MaxPayload(); limit > 0 {
		for _, msg := range msgs {
			if err := checkSize(conn, msg, limit); err != nil {
				return err
			}
		}
	}
	if conn.Send(msgs...) != nil {
		return ErrNotConnected
	}
	return nil
}

// checkSize compares one message's encoding with the server's limit: a
// WebSocket frame holds a type byte and the data (binary data as is), a
// polling record the same with binary data in base64. The transport is
// only looked at (under the connection's lock) for messages near the limit.
func checkSize(conn *engineio.Conn, msg engineio.Message, limit int64) error {
	n := int64(len(msg.Data))
	if !msg.Binary {
		n++ // the packet type
	}
	if n > limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, limit)
	}
	if msg.Binary {
		if polled := 1 + int64(base64.StdEncoding.EncodedLen(len(msg.Data))); polled > limit && conn.Transport() == engineio.TransportPolling {
			return fmt.Errorf("%w: %d bytes over polling, the limit is %d", ErrTooLarge, polled, limit)
		}
	}
	return nil
}

// link is the engineio.Receiver of one connection.
type link struct {
	m   *Manager
	gen int64
	// reasm (the default format) and dec (a custom one, made on the first
	// message) are used by the read goroutine only.
	reasm siopacket.Reassembler
	dec   sioparser.Decoder
}

func (l *link) current() bool { return l.gen == l.m.gen.Load() }

// OnMessage implements engineio.Receiver.
func (l *link) OnMessage(data []byte, binary bool) {
	if !l.current() {
		return
	}
	if parser := l.m.opts.Parser; parser != nil {
		if l.dec == nil {
			l.dec = parser.NewDecoder(siopacket.Limits{})
		}
		p, ok, err := l.dec.Decode(data, binary)
		if err != nil {
			l.protocolError(err)
		} else if ok {
			l.dispatch(&p)
		}
		return
	}
	if binary {
		p, done, err := l.reasm.Add(data)
		if err != nil {
			l.protocolError(err)
		} else if done {
			l.dispatch(&p)
		}
		return
	}
	if l.reasm.Waiting() {
		l.reasm.Reset()
		l.protocolError(siopacket.ErrInvalid)
		return
	}
	p, n, err := siopacket.DecodeText(data, siopacket.Limits{})
	if err != nil {
		l.protocolError(err)
		return
	}
	if n > 0 {
		l.reasm.Start(p)
		return
	}
	// p.Data aliases data, valid only during this call; every use of it
	// decodes (and so copies) what it keeps.
	l.dispatch(&p)
}

func (l *link) dispatch(p *siopacket.Packet) {
	l.m.mu.Lock()
	s := l.m.sockets[p.Namespace]
	l.m.mu.Unlock()
	if s != nil {
		s.onPacket(p)
	}
}

// protocolError ends the connection after an undecodable packet: sockets
// see "parse error", and the manager reconnects.
func (l *link) protocolError(err error) {
	l.m.opts.Logger.Debug("sioclient: protocol violation", "err", err)
	l.close(ReasonParseError)
}

// OnClose implements engineio.Receiver.
func (l *link) OnClose(reason engineio.CloseReason, _ error) {
	r := Reason(reason)
	if reason == engineio.ReasonForcedClose {
		r = ReasonClientDisconnect
	}
	l.close(r)
}

// close handles the end of this connection once.
func (l *link) close(reason Reason) {
	m := l.m
	m.mu.Lock()
	if l.gen != m.gen.Load() {
		m.mu.Unlock()
		return
	}
	m.gen.Add(1) // later callbacks of this connection are stale
	conn, done := m.conn.Swap(nil), m.connDone
	m.connDone = nil
	if m.state == stateOpen {
		m.state = stateIdle
	}
	socks := m.socketListLocked()
	m.mu.Unlock()
	for _, s := range socks {
		s.onClose(reason)
	}
	if conn != nil {
		conn.Close()
	}
	if done != nil {
		close(done)
	}
	m.mu.Lock()
	m.maybeReconnectLocked()
	m.mu.Unlock()
}
