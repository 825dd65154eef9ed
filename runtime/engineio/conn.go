package engineio

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// Message is one Engine.IO message: UTF-8 text, or binary.
type Message struct {
	Data   []byte
	Binary bool
	// NoCompress sends the message uncompressed even when per-message
	// deflate was negotiated or polling responses are compressed.
	NoCompress bool
}

// outPacket is a queued outbound packet.
type outPacket struct {
	eiopacket.Packet
	noCompress bool
	// raw says Data is a whole text frame, type character included: a
	// revision 3 binary message sent as base64 ("b4...").
	raw bool
}

func messagePacket(m Message) outPacket {
	return outPacket{Packet: eiopacket.Packet{Type: eiopacket.Message, Data: m.Data, Binary: m.Binary}, noCompress: m.NoCompress}
}

// Receiver gets what happens on one session.
//
// Calls never overlap: OnMessage is called once per message, in order, and
// OnClose once at the end, after the last OnMessage has returned. A call that
// blocks stalls the session's reading, so hand long work to another goroutine.
type Receiver interface {
	// OnMessage receives one message. data is only valid until OnMessage
	// returns; copy what must outlive the call.
	OnMessage(data []byte, binary bool)
	// OnClose reports the end of the session: why, and the underlying error
	// if there was one.
	OnClose(reason CloseReason, err error)
}

// connState is where a session is in its life.
type connState uint8

const (
	stateOpen    connState = iota // exchanging packets
	stateClosing                  // flushing what is queued, then closing
	stateClosed                   // done; OnClose delivered or on its way
)

func (s connState) String() string {
	switch s {
	case stateOpen:
		return "open"
	case stateClosing:
		return "closing"
	case stateClosed:
		return "closed"
	}
	return "unknown"
}

// closedPollLinger is how long a polling session closed by its client stays
// findable, to answer a GET that raced the close packet.
const closedPollLinger = time.Second

// pollCloseTimeout is how long a closing polling session waits for the GET
// that would carry its close packet (the reference uses 30s).
const pollCloseTimeout = 30 * time.Second

// Conn is one Engine.IO session, on the server or the client side.
//
// All methods are safe for concurrent use. Messages are queued and written by
// at most one goroutine per connection; the caller of Send never does I/O.
//
// Every idle connection holds one, so flags sit together rather than each
// padded to a word of its own.
type Conn struct {
	id       string
	isClient bool
	// eio3 marks a session of protocol revision 3 (AllowEIO3): the client
	// pings, and the transports frame binary that revision's way.
	eio3      bool
	srv       *Server     // nil on the client side
	handshake *handshake  // what the handshake request was (server side)
	limits    *connLimits // shared by a server's sessions
	recv      Receiver

	// recvMu serialises calls into recv, so that OnMessage calls never
	// overlap and none comes after OnClose.
	recvMu   sync.Mutex
	recvDone bool

	// mu guards the session state, the outbound queue, the transport in use
	// and the heartbeat. It is never held during network I/O.
	mu          sync.Mutex
	state       connState
	counted     bool        // a server session, counted in its server's Stats
	writing     bool        // a writer is running, or the read loop will write (deferral.pending)
	closeReason CloseReason // set when state leaves stateOpen
	closeErr    error
	transport   string
	out         outQueue
	hb          heartbeat
	timer       sessionTimer // the one deadline, on the shared heaps
	deferral    writeDeferral
	// push is the transport that writes queued packets as they come: a
	// WebSocket (wsTransport), or a client's long-polling (clientPolling).
	// It is nil while a server session is on long-polling, whose packets
	// wait for the client's GET (poll).
	push pushTransport
	// poll is a server session's long-polling side: the parked GET, the
	// POST being read, the WebSocket probe of an upgrade. Nil otherwise.
	poll *serverPolling
}

// outQueue is what waits to be written, under the session's mu.
type outQueue struct {
	packets []outPacket
	bytes   int // the memory packets hold (heldBytes)
	// sending is the data of the batch being written, taken off the
	// queue but still held until the write returns. MaxPendingBytes bounds
	// bytes+sending: counting the queue alone let a stuck client hold a
	// full queue plus a full batch stuck in its write, twice the limit.
	sending int
	// spare is the backing array of the batch before last, kept so that
	// under load the queue and the batch being written swap two arrays
	// instead of growing a new one per batch. A heartbeat on an idle
	// session drops it (trimIdleQueuesLocked).
	spare []outPacket
}

// connLimits are the per-session settings taken from the server or the
// client's handshake.
type connLimits struct {
	pingInterval time.Duration
	pingTimeout  time.Duration
	maxPending   int
	writeTimeout time.Duration
	maxPayload   int64
}

// ID returns the session id.
func (c *Conn) ID() string { return c.id }

// Protocol returns the Engine.IO protocol revision the session speaks: 4,
// or 3 for a client accepted by Options.AllowEIO3.
func (c *Conn) Protocol() int {
	if c.eio3 {
		return 3
	}
	return 4
}

// RemoteAddr returns the handshake request's remote address on the server
// side ("" on the client side), for logs.
func (c *Conn) RemoteAddr() string {
	if c.handshake == nil {
		return ""
	}
	return c.handshake.remoteAddr()
}

// Request returns the handshake request on the server side, nil on the
// client side: method, URL, headers, host, remote address and TLS state
// (no body, and a background context). Each call returns a new Request
// with the headers parsed anew from a compact copy; its URL is shared and
// must not be modified.
func (c *Conn) Request() *http.Request {
	if c.handshake == nil {
		return nil
	}
	return c.handshake.request()
}

// RequestURI returns the handshake request's URI as its URL encodes it
// (URL.RequestURI: path and query), "" on the client side. It is the kept
// copy when that is the same, so that a caller keeping it holds no string
// of its own.
func (c *Conn) RequestURI() string {
	if c.handshake == nil {
		return ""
	}
	kept := c.handshake.requestURI()
	if uri := c.handshake.requestURL().RequestURI(); uri != kept {
		return uri
	}
	return kept
}

// Header returns the headers of the handshake request on the server side
// (parsed anew from a compact copy on each call), nil on the client side.
func (c *Conn) Header() http.Header {
	if c.handshake == nil {
		return nil
	}
	return c.handshake.parseHeader()
}

// Transport returns the name of the transport in use: TransportPolling or
// TransportWebSocket. It changes once if the session upgrades.
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// OnUpgrade registers f to run once the session is on WebSocket, like the
// reference's "upgrade" event: on a goroutine of the session when it
// upgrades from polling, or at once if it is on WebSocket already. A
// polling session that never upgrades never runs it.
func (c *Conn) OnUpgrade(f func()) {
	c.mu.Lock()
	if c.transport != TransportWebSocket {
		if c.poll != nil { // a client session never runs them
			c.poll.onUpgrade = append(c.poll.onUpgrade, f)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// Send queues messages to be written in order, atomically with respect to
// other Send calls. Data slices are not copied: they must not be modified
// afterwards, which lets one encoded buffer be sent to many sessions.
// Send returns ErrClosed once the session is closing, and ErrSlowConsumer
// (closing the session) when the peer has fallen too far behind.
func (c *Conn) Send(msgs ...Message) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	var sent int
	for _, m := range msgs {
		c.out.packets = append(c.out.packets, messagePacket(m))
		c.out.bytes += heldBytes(m.Data)
		sent += len(m.Data)
	}
	if c.counted {
		c.srv.counters.msgsOut.Add(uint64(len(msgs)))
		c.srv.counters.bytesOut.Add(uint64(sent))
	}
	if c.out.bytes+c.out.sending > c.limits.maxPending {
		c.mu.Unlock()
		c.closeNow(ReasonTransportError, ErrSlowConsumer)
		return ErrSlowConsumer
	}
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// heldBytes is the memory queued data holds: its capacity rather than its
// length, as an encoder that grew the slice by appending leaves part of it
// unused, and, past the runtime's largest size class (32 KiB), rounded up
// to whole 8 KiB pages, which is how large objects are allocated. Counting
// only the length let a stuck client hold 1.15 times MaxPendingBytes in
// 64 KiB messages. Appending never leaves more than twice the length, so a
// capacity beyond that is a window on a buffer the caller holds anyway (a
// protobuf message cut from a larger read, say): counting all of it closed
// connections that had queued a few bytes.
func heldBytes(data []byte) int {
	const largeObject, page = 32 << 10, 8 << 10
	n := cap(data)
	if n > 2*len(data) && n > largeObject {
		n = len(data)
	}
	if n > largeObject {
		n = (n + page - 1) &^ (page - 1)
	}
	return n
}

// SendVolatile sends msgs only if the transport can take them right now:
// nothing is queued and, for polling, the client has a GET waiting. It
// reports whether they were sent. Use it for data that may be lost, such as
// frequent position updates, rather than queue it behind a slow client.
func (c *Conn) SendVolatile(msgs ...Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ready := c.push != nil || (c.poll != nil && c.poll.waiting && !c.poll.probeNoop)
	if c.state != stateOpen || len(c.out.packets) > 0 || !ready {
		return false
	}
	var sent int
	for _, m := range msgs {
		c.out.packets = append(c.out.packets, messagePacket(m))
		c.out.bytes += heldBytes(m.Data)
		sent += len(m.Data)
	}
	if c.counted {
		c.srv.counters.msgsOut.Add(uint64(len(msgs)))
		c.srv.counters.bytesOut.Add(uint64(sent))
	}
	c.kickLocked()
	return true
}

// Close flushes what is queued, then ends the session with reason
// "forced close". It does not wait; the Receiver's OnClose reports the end.
func (c *Conn) Close() error {
	c.closeGracefully(ReasonForcedClose)
	return nil
}

// closeGracefully moves an open session to closing: queued data still goes
// out, then the transport closes.
func (c *Conn) closeGracefully(reason CloseReason) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.closeReason = reason
	if c.push == nil {
		// The close packet rides on the next GET; give up if none comes,
		// and no later than the heartbeat would have: a client that
		// stopped polling is gone, and waiting the full close timeout
		// past its heartbeat deadline kept sessions open long after the
		// protocol says they end.
		d := pollCloseTimeout
		if left := time.Until(c.heartbeatDeadlineLocked()); left < d {
			d = max(left, 0)
		}
		c.setTimer(time.Now().Add(d))
		c.kickLocked()
		c.mu.Unlock()
		return
	}
	idle := !c.writing
	c.mu.Unlock()
	if idle {
		c.finishClose()
	}
}

// finishClose ends a closing session once its queue has drained.
func (c *Conn) finishClose() {
	c.mu.Lock()
	reason, push := c.closeReason, c.push
	c.mu.Unlock()
	if push != nil {
		push.sayGoodbye(c)
	}
	c.closeNow(reason, nil)
}

// closeNow ends the session at once: queued data is dropped, the transport
// is closed and OnClose is delivered. Later calls do nothing.
func (c *Conn) closeNow(reason CloseReason, err error) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	c.closeReason, c.closeErr = reason, err
	c.stopTimer()
	push := c.push
	var probe *websocket.Conn
	lingers := false
	if c.poll != nil {
		probe, c.poll.probe = c.poll.probe, nil
		lingers = reason == ReasonTransportClose && c.transport == TransportPolling && !c.poll.waiting
	}
	if c.counted {
		n := &c.srv.counters
		n.sessions(c.transport).Add(-1)
		n.closedWith(reason)
	}
	c.out.packets, c.out.bytes = nil, 0
	c.wakePollLocked()
	c.mu.Unlock()

	if push != nil {
		push.stop()
	}
	if probe != nil {
		_ = probe.Close()
	}
	if c.srv != nil {
		if err != nil {
			c.srv.opts.Logger.Debug("engineio: session closed", "sid", c.id, "remote", c.RemoteAddr(), "reason", string(reason), "err", err)
		}
		if lingers {
			// A client that closes a polling session often has a GET in
			// flight that raced its close packet; keep the session long
			// enough to end that GET with noop rather than an error.
			time.AfterFunc(closedPollLinger, func() { c.srv.forget(c) })
		} else {
			c.srv.forget(c)
		}
	}
	// OnClose may call back into this Conn, and must wait for an OnMessage
	// that may be running on the read goroutine: deliver it from its own.
	go c.deliverClose(reason, err)
}

func (c *Conn) deliverClose(reason CloseReason, err error) {
	c.recvMu.Lock()
	c.recvDone = true
	recv := c.recv
	c.recvMu.Unlock()
	recv.OnClose(reason, err)
	if c.srv != nil {
		c.srv.sessionDone()
	}
}

// deliver hands one message to the receiver unless the session has ended.
func (c *Conn) deliver(data []byte, binary bool) {
	if c.counted {
		c.srv.counters.msgsIn.Add(1)
		c.srv.counters.bytesIn.Add(uint64(len(data)))
	}
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if !c.recvDone {
		c.recv.OnMessage(data, binary)
	}
}

// onPacket handles one decoded inbound packet. It reports whether the
// session ended.
func (c *Conn) onPacket(p eiopacket.Packet) (ended bool) {
	switch p.Type {
	case eiopacket.Message:
		c.deliver(p.Data, p.Binary)
	case eiopacket.Pong:
		switch {
		case !c.peerPings():
			c.onPong()
		case !c.isClient:
			// A revision 3 client answering pings nobody sent.
			c.closeNow(ReasonTransportError, ErrHeartbeat)
			return true
		}
	case eiopacket.Ping:
		if !c.peerPings() {
			c.closeNow(ReasonTransportError, ErrHeartbeat)
			return true
		}
		c.onPing()
	case eiopacket.Close:
		c.closeNow(ReasonTransportClose, nil)
		return true
	}
	// open, upgrade and noop carry nothing for an open session.
	return false
}
