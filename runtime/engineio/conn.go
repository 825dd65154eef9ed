package engineio

import (
	"net/http"
	"runtime"
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
type Conn struct {
	id        string
	isClient  bool
	srv       *Server    // nil on the client side
	handshake *handshake // what the handshake request was (server side)
	limits    connLimits
	// eio3 marks a session of protocol revision 3 (AllowEIO3): the client
	// pings, and binary is framed differently (eiopacket's V3 functions).
	// Such a client may ask for binary as base64 (b64), per transport:
	// pollBase64 is set at the handshake, wsBase64 (guarded by mu) when
	// the session goes onto WebSocket.
	eio3, pollBase64 bool
	recv             Receiver
	cli              *clientPolling // client-side polling transport, nil otherwise

	// recvMu serialises calls into recv, so that OnMessage calls never
	// overlap and none comes after OnClose.
	recvMu   sync.Mutex
	recvDone bool

	// mu guards the session state, the outbound queue, the transport in use
	// and the heartbeat. It is never held during network I/O.
	mu          sync.Mutex
	state       connState
	closeReason CloseReason // set when state leaves stateOpen
	counted     bool        // a server session, counted in its server's Stats
	closeErr    error
	transport   string
	onUpgrade   []func() // run once the session has upgraded
	queue       []outPacket
	queuedBytes int
	// sendingBytes is the data of the batch being written, taken off the
	// queue but still held until the write returns. MaxPendingBytes bounds
	// queuedBytes+sendingBytes: counting the queue alone let a stuck client
	// hold a full queue plus a full batch stuck in its write, twice the limit.
	sendingBytes int
	// spareQueue is the backing array of the batch before last, kept so
	// that under load the queue and the batch being written swap two
	// arrays instead of growing a new one per batch. A heartbeat on an idle
	// session drops it (trimIdleQueuesLocked).
	spareQueue []outPacket
	timer      *time.Timer // heartbeat, and the close deadline while closing
	timerDue   time.Time   // when timer is meant to fire; it may run late
	awaitPong  bool        // server side: a ping is out, the pong not yet back
	writing    bool        // a writer is running, or the read loop will write (deferredWrite)
	// delivering is set while the WebSocket read loop is inside OnMessage.
	// Data queued meanwhile is written by the read loop once OnMessage
	// returns (deferredWrite), which saves starting a writer goroutine and
	// a scheduling hop on the request/reply path.
	delivering    bool
	deferredWrite bool
	// deferLimit starts a writer goroutine for deferred data if OnMessage
	// runs on for long, so a slow handler does not hold back what it sent.
	deferLimit *time.Timer
	deferArmed bool // deferLimit is running
	ws         *websocket.Conn
	batch      *batchConn // under ws on the server side: gathers a batch's frames
	// Server-side polling.
	pollWaiting bool          // a GET is parked waiting for data
	pollWake    chan struct{} // wakes the parked GET; buffered, capacity 1
	posting     bool          // a POST is being read
	probe       *websocket.Conn
	probeNoop   bool // the probe was answered a while ago: GETs end with noop
	wsBase64    bool // revision 3: binary goes over WebSocket as base64 text
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

// peerPings reports whether the other side sends the pings and this one
// answers them: a client, or a server speaking revision 3.
func (c *Conn) peerPings() bool { return c.isClient || c.eio3 }

// RemoteAddr returns the handshake request's remote address on the server
// side ("" on the client side), for logs.
func (c *Conn) RemoteAddr() string {
	if c.handshake == nil {
		return ""
	}
	return c.handshake.remoteAddr
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
		c.onUpgrade = append(c.onUpgrade, f)
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
		c.queue = append(c.queue, messagePacket(m))
		c.queuedBytes += heldBytes(m.Data)
		sent += len(m.Data)
	}
	if c.counted {
		c.srv.counters.msgsOut.Add(uint64(len(msgs)))
		c.srv.counters.bytesOut.Add(uint64(sent))
	}
	if c.queuedBytes+c.sendingBytes > c.limits.maxPending {
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
	ready := c.ws != nil || c.pollWaiting || c.cli != nil
	if c.state != stateOpen || len(c.queue) > 0 || !ready || c.probeNoop {
		return false
	}
	var sent int
	for _, m := range msgs {
		c.queue = append(c.queue, messagePacket(m))
		c.queuedBytes += heldBytes(m.Data)
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
	if c.transport == TransportPolling && !c.isClient {
		// The close packet rides on the next GET; give up if none comes,
		// and no later than the heartbeat would have: a client that
		// stopped polling is gone, and waiting the full close timeout
		// past its heartbeat deadline kept sessions open long after the
		// protocol says they end.
		d := pollCloseTimeout
		if left := time.Until(c.heartbeatDeadlineLocked()); left < d {
			d = max(left, 0)
		}
		c.timer.Reset(d)
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
	reason, ws, cli := c.closeReason, c.ws, c.cli
	c.mu.Unlock()
	switch {
	case ws != nil:
		// A close frame without a status code, as the reference's
		// WebSocket layer sends when its server closes a session.
		deadline := time.Now().Add(time.Second)
		_ = ws.WriteControl(websocket.CloseMessage, []byte{}, deadline)
	case cli != nil:
		cli.sendClosePacket(c)
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
	c.timer.Stop()
	ws, probe, cli := c.ws, c.probe, c.cli
	lingers := reason == ReasonTransportClose && c.transport == TransportPolling && !c.pollWaiting
	if c.counted {
		n := &c.srv.counters
		n.sessions(c.transport).Add(-1)
		n.closedWith(reason)
	}
	c.probe = nil
	c.queue, c.queuedBytes = nil, 0
	c.wakePollLocked()
	c.mu.Unlock()

	if ws != nil {
		_ = ws.Close()
	}
	if probe != nil {
		_ = probe.Close()
	}
	if cli != nil {
		cli.stop()
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

// startHeartbeat arms the heartbeat timer: the server pings every
// pingInterval; the side that is pinged (a client, or a revision 3 server)
// expects a ping within pingInterval+pingTimeout.
func (c *Conn) startHeartbeat() {
	d := c.limits.pingInterval
	if c.peerPings() {
		d += c.limits.pingTimeout
	}
	c.mu.Lock() // the timer's callback may run before AfterFunc returns
	defer c.mu.Unlock()
	c.timerDue = time.Now().Add(d)
	c.timer = time.AfterFunc(d, c.onTimer)
}

// resetTimerLocked re-arms the heartbeat timer to fire d after from.
func (c *Conn) resetTimerLocked(from time.Time, d time.Duration) {
	c.timerDue = from.Add(d)
	c.timer.Reset(time.Until(c.timerDue))
}

// heartbeatDeadlineLocked is when the server-side heartbeat fails if no
// pong comes: the pong deadline of a ping that is out, or pingTimeout after
// the next ping is due; for revision 3, when the client's ping is due.
func (c *Conn) heartbeatDeadlineLocked() time.Time {
	if c.awaitPong || c.eio3 {
		return c.timerDue
	}
	return c.timerDue.Add(c.limits.pingTimeout)
}

// expiredLocked reports whether the heartbeat has already failed, even if
// the timer has not fired yet: timers can run late on a loaded machine, and
// a request must not revive a session whose pong deadline has passed.
func (c *Conn) expiredLocked(now time.Time) bool {
	if c.state != stateOpen || c.isClient {
		return false
	}
	return now.After(c.heartbeatDeadlineLocked())
}

// onTimer runs when the heartbeat timer fires.
func (c *Conn) onTimer() {
	c.mu.Lock()
	switch {
	case c.state == stateClosed:
		c.mu.Unlock()
	case c.state == stateClosing:
		// The close deadline passed before the queue could be flushed.
		reason := c.closeReason
		c.mu.Unlock()
		c.closeNow(reason, nil)
	case c.peerPings() || c.awaitPong:
		c.mu.Unlock()
		c.closeNow(ReasonPingTimeout, nil)
	default:
		c.trimIdleQueuesLocked()
		c.awaitPong = true
		// Count the timeout from when the ping was due, not from when a
		// late timer got round to it.
		c.resetTimerLocked(c.timerDue, c.limits.pingTimeout)
		c.queue = append(c.queue, outPacket{Packet: eiopacket.Packet{Type: eiopacket.Ping}})
		c.kickLocked()
		c.mu.Unlock()
	}
}

func (c *Conn) onPong() {
	c.mu.Lock()
	if c.state == stateOpen && c.awaitPong {
		c.awaitPong = false
		c.resetTimerLocked(time.Now(), c.limits.pingInterval)
	}
	c.mu.Unlock()
}

func (c *Conn) onPing() {
	c.mu.Lock()
	if c.state == stateOpen {
		c.trimIdleQueuesLocked()
		c.resetTimerLocked(time.Now(), c.limits.pingInterval+c.limits.pingTimeout)
		c.queue = append(c.queue, outPacket{Packet: eiopacket.Packet{Type: eiopacket.Pong}})
		c.kickLocked()
	}
	c.mu.Unlock()
}

// trimIdleQueuesLocked drops the queue arrays kept from busier times,
// when the session is between writes. It runs once per heartbeat.
func (c *Conn) trimIdleQueuesLocked() {
	if c.writing || len(c.queue) > 0 {
		return
	}
	c.spareQueue = nil
	if cap(c.queue) > maxIdleQueueCap {
		c.queue = nil
	}
}

// kickLocked gets queued packets moving: it starts the write loop for
// push transports, or wakes the parked GET for server-side polling.
func (c *Conn) kickLocked() {
	if c.ws != nil || c.cli != nil {
		if c.delivering && c.batch != nil {
			// The read loop takes the writer's part once OnMessage returns.
			if !c.writing {
				c.writing = true
				c.deferredWrite = true
				c.armDeferLimitLocked()
			}
			return
		}
		if !c.writing && (c.cli == nil || !c.cli.pausing) {
			c.writing = true
			go c.writeLoop()
		}
		return
	}
	c.wakePollLocked()
}

func (c *Conn) wakePollLocked() {
	if c.pollWaiting {
		select {
		case c.pollWake <- struct{}{}:
		default:
		}
	}
}

// maxKeptQueueCap is the largest queue backing array kept between writes.
// Arrays are kept while the writer stops and restarts, as it does between
// bursts of request/response traffic: dropping them there made the queue
// regrow from nothing (1, 2, 4, ... entries) about once per call.
const maxKeptQueueCap = 256

// maxIdleQueueCap is the largest queue array a session keeps once a
// heartbeat finds nothing queued: larger ones are dropped then, so a
// session that has gone quiet since a burst gives its arrays back within
// one ping interval.
const maxIdleQueueCap = 4

// writeLoop is the one writer of a push transport. It runs while there is
// something to write and exits when the queue is empty, so idle sessions
// have no writer goroutine.
func (c *Conn) writeLoop() {
	// Let goroutines that are ready to run (handlers finishing their
	// replies, other broadcasts) queue their packets first, so that one
	// write carries them all. With nothing else ready this returns at once.
	runtime.Gosched()
	for c.writeNext() {
	}
}

// maxInlineBatches bounds the batches the read loop writes itself before
// handing the rest to a writer goroutine, so that a stream of broadcasts
// to this connection cannot keep it from reading.
const maxInlineBatches = 2

// maxWriteDeferral is how long data queued during OnMessage may wait for
// it to return before a writer goroutine takes it.
const maxWriteDeferral = time.Millisecond

// armDeferLimitLocked makes sure the deferral timer runs. It is left
// running when the deferral ends, not stopped: a timer that is still
// running from an earlier deferral fires sooner than this one needs, which
// at worst starts a writer early, and under load the timer is then set at
// most once a millisecond instead of set and stopped for every message.
func (c *Conn) armDeferLimitLocked() {
	switch {
	case c.deferLimit == nil:
		c.deferLimit = time.AfterFunc(maxWriteDeferral, c.endDeferral)
	case !c.deferArmed:
		c.deferLimit.Reset(maxWriteDeferral)
	}
	c.deferArmed = true
}

// dropDeferLimit frees the deferral timer, which most connections need
// only for the replies to their opening message; a connection that goes on
// sending makes a new one.
func (c *Conn) dropDeferLimit() {
	c.mu.Lock()
	if c.deferLimit != nil {
		c.deferLimit.Stop() // a run already due finds nothing deferred
		c.deferLimit, c.deferArmed = nil, false
	}
	c.mu.Unlock()
}

// endDeferral hands data still deferred to a writer goroutine.
func (c *Conn) endDeferral() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deferArmed = false
	if c.deferredWrite {
		c.deferredWrite = false
		go c.writeLoop()
	}
}

// writeDeferred runs on the read loop after OnMessage returns: it writes
// what the message's handlers queued, or starts a writer if one is needed.
func (c *Conn) writeDeferred() {
	c.mu.Lock()
	c.delivering = false
	pending := c.deferredWrite
	c.deferredWrite = false
	if !pending {
		c.mu.Unlock()
		return
	}
	more := c.batch != nil && c.batch.inputBuffered()
	c.mu.Unlock()
	if more {
		// More requests are already read: let a writer goroutine gather
		// their replies into one write while this loop parses them.
		go c.writeLoop()
		return
	}
	for range maxInlineBatches {
		if !c.writeNext() {
			return
		}
	}
	go c.writeLoop()
}

// writeNext writes one batch of queued packets. It reports false, with
// writing cleared, once there is nothing more to write or the transport
// failed.
func (c *Conn) writeNext() bool {
	c.mu.Lock()
	batch := c.queue
	if c.cli != nil && c.cli.pausing {
		// Leave the queue for the upgraded transport.
		c.stopWritingLocked()
		c.mu.Unlock()
		return false
	}
	if len(batch) == 0 || c.state == stateClosed {
		c.stopWritingLocked()
		closing := c.state == stateClosing
		c.mu.Unlock()
		if closing {
			c.finishClose()
		}
		return false
	}
	c.sendingBytes = c.queuedBytes
	c.queue, c.queuedBytes = c.spareQueue, 0
	c.spareQueue = nil
	ws, cli, bc, wsBase64 := c.ws, c.cli, c.batch, c.wsBase64
	c.mu.Unlock()

	if c.eio3 && ws != nil {
		framesV3(batch, wsBase64)
	}
	var err error
	switch {
	case bc != nil && bc.ownFrames:
		err = bc.writeFrames(batch, c.limits.writeTimeout)
	case ws != nil:
		if bc != nil {
			bc.begin()
		}
		err = writeFramesGorilla(ws, batch, c.limits.writeTimeout)
		if bc != nil {
			if ferr := bc.flush(); err == nil {
				err = ferr
			}
		}
	default:
		err = cli.post(c, batch)
	}
	clear(batch)
	c.mu.Lock()
	c.sendingBytes = 0
	c.mu.Unlock()
	if err != nil {
		c.closeNow(ReasonTransportError, err)
		c.mu.Lock()
		c.stopWritingLocked()
		c.mu.Unlock()
		return false
	}
	if cap(batch) <= maxKeptQueueCap {
		c.mu.Lock()
		if c.queue == nil {
			c.queue = batch[:0]
		} else {
			c.spareQueue = batch[:0]
		}
		c.mu.Unlock()
	}
	return true
}

// stopWritingLocked records that the write loop is exiting, and tells a
// client upgrade waiting for it.
func (c *Conn) stopWritingLocked() {
	c.writing = false
	if c.cli != nil && c.cli.writerPaused != nil {
		close(c.cli.writerPaused)
		c.cli.writerPaused = nil
	}
}

// handOverWriterLocked ends a stretch in which the caller wrote to the
// transport itself (a handshake or an upgrade), starting the write loop if
// anything queued up meanwhile or the session began closing.
func (c *Conn) handOverWriterLocked() {
	c.writing = false
	if len(c.queue) > 0 || c.state == stateClosing {
		c.writing = true
		go c.writeLoop()
	}
}

// typeChar holds each packet type's character, so a frame's first byte can
// be written without allocating.
var typeChar = [...]byte{'0', '1', '2', '3', '4', '5', '6'}

// writeFramesGorilla writes packets as WebSocket frames through gorilla,
// which compresses them if that was negotiated: binary messages as binary
// frames, everything else as text frames of type character plus data.
func writeFramesGorilla(ws *websocket.Conn, packets []outPacket, timeout time.Duration) error {
	if err := ws.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for _, p := range packets {
		// Without negotiated compression this has no effect.
		ws.EnableWriteCompression(!p.noCompress)
		if p.raw {
			if err := ws.WriteMessage(websocket.TextMessage, p.Data); err != nil {
				return err
			}
			continue
		}
		if p.Binary {
			if err := ws.WriteMessage(websocket.BinaryMessage, p.Data); err != nil {
				return err
			}
			continue
		}
		w, err := ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return err
		}
		i := p.Type - eiopacket.Open
		_, _ = w.Write(typeChar[i : i+1])
		_, _ = w.Write(p.Data)
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// framesV3 rewrites the binary messages of a revision 3 session's batch
// into that revision's WebSocket form: a binary frame led by the type byte,
// or, for a client that asked for base64, a "b4" text frame. Both are
// copies, as the data may be shared with other sessions.
func framesV3(batch []outPacket, base64 bool) {
	for i := range batch {
		p := &batch[i]
		switch {
		case !p.Binary:
		case base64:
			p.Data = eiopacket.AppendBase64RecordV3(nil, p.Data)
			p.Binary, p.raw = false, true
		default:
			p.Data = eiopacket.AppendBinaryFrameV3(make([]byte, 0, 1+len(p.Data)), p.Data)
		}
	}
}
