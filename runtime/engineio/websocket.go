package engineio

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// writeBufPool lends WebSocket write buffers only while a message is written.
var writeBufPool = &sync.Pool{}

// wsTransport is a session's WebSocket: one frame per packet.
type wsTransport struct {
	// conn is gorilla's connection, nil once the transport reads and
	// writes its frames itself (wsread.go).
	conn *websocket.Conn
	// batch is the connection under conn: it gathers a batch's frames
	// into one write.
	batch *batchConn
	// v3 frames binary the protocol revision 3 way, as base64 text
	// frames if base64 (the client asked with b64).
	v3, base64 bool
	// idle parks the server side's read goroutine while the connection is
	// quiet (park.go).
	idle idleReader
}

// newWSTransport makes the transport of a server session moving onto ws
// over bc. One that frames its messages itself lets go of ws (wsread.go).
func newWSTransport(ws *websocket.Conn, bc *batchConn, v3, base64 bool) *wsTransport {
	t := &wsTransport{conn: ws, batch: bc, v3: v3, base64: v3 && base64}
	if ownFrameReader(bc) {
		t.conn = nil
	}
	return t
}

// netConn returns the connection under the WebSocket.
func (t *wsTransport) netConn() net.Conn {
	if t.conn != nil {
		return t.conn.NetConn()
	}
	return t.batch
}

// write implements pushTransport.
func (t *wsTransport) write(c *Conn, packets []outPacket) error {
	if t.v3 {
		framesV3(packets, t.base64)
	}
	timeout := c.limits.writeTimeout
	if t.batch == nil {
		return writeFramesGorilla(t.conn, packets, timeout)
	}
	if t.batch.ownFrames {
		return t.batch.writeFrames(packets, timeout)
	}
	t.batch.begin()
	err := writeFramesGorilla(t.conn, packets, timeout)
	if ferr := t.batch.flush(); err == nil {
		err = ferr
	}
	return err
}

// sayGoodbye implements pushTransport: a close frame without a status
// code, as the reference's WebSocket layer sends when its server closes a
// session.
func (t *wsTransport) sayGoodbye(*Conn) {
	t.writeControl(opClose, []byte{})
}

// stop implements pushTransport.
func (t *wsTransport) stop() {
	t.stopIdle()
	_ = t.netConn().Close()
}

// readLoop reads frames from ws until the session ends. It runs on the
// goroutine that owns the connection after the upgrade.
//
// The first message opens the session above (a Socket.IO CONNECT:
// middleware, handlers, rooms) and grows this goroutine's stack, which a
// parked goroutine keeps. Then the connection is parked if it can be
// (park.go); if not, the rest is read on a fresh goroutine, so that a
// connection that then idles holds a minimal stack.
func (c *Conn) readLoop(t *wsTransport) {
	t.awaitInput()
	ended, _ := c.readMessage(t)
	if ended {
		return
	}
	c.dropDeferLimit()
	if t.shouldPark() && t.park() {
		return
	}
	go c.readRest(t)
}

// readRest is readLoop after the first message, and what a parked
// connection runs when it wakes.
func (c *Conn) readRest(t *wsTransport) {
	for {
		t.awaitInput()
		ended, heartbeat := c.readMessage(t)
		switch {
		case ended:
			return
		case !heartbeat:
			t.markActive()
		case t.shouldPark() && !t.idle.active.Swap(false) && t.park():
			// Nothing but heartbeats since the last one: quiet.
			return
		}
	}
}

// awaitInput blocks until the socket has bytes to read, without reading
// them away from the WebSocket. Parking here rather than deep inside the
// frame parser keeps an idle connection's goroutine within the smallest
// stack; the bytes land in the reader the parser reads from next.
func (t *wsTransport) awaitInput() {
	if t.batch != nil && t.batch.reader != nil && t.batch.reader.Buffered() == 0 {
		// An error shows up again, and is handled, in the frame read.
		_, _ = t.batch.reader.Peek(1)
	}
}

// readMessage reads and handles one message. It reports whether the
// session ended, and whether the message was a heartbeat (a ping or pong).
func (c *Conn) readMessage(t *wsTransport) (ended, heartbeat bool) {
	buf := getMsgBuf()
	defer buf.release()
	mt, err := t.readMessage(buf, c.limits.maxPayload)
	if err != nil {
		c.closeAfterReadError(t, err)
		return true, false
	}
	c.mu.Lock()
	c.deferral.delivering = true
	c.mu.Unlock()
	if mt == websocket.BinaryMessage && !t.v3 {
		c.deliver(buf.bytes(), true)
	} else if p, err := t.decode(mt, buf.bytes()); errors.Is(err, eiopacket.ErrInvalidUTF8) {
		c.closeInvalidText(t, err)
		ended = true
	} else if err != nil {
		c.closeNow(ReasonParseError, err)
		ended = true
	} else {
		heartbeat = p.Type == eiopacket.Ping || p.Type == eiopacket.Pong
		ended = c.onPacket(p)
	}
	c.writeDeferred()
	return ended, heartbeat
}

// readMessage reads the next data message into buf, at most limit bytes,
// and returns its opcode.
func (t *wsTransport) readMessage(buf *msgBuf, limit int64) (int, error) {
	if t.conn == nil {
		return t.readFrames(buf, limit)
	}
	mt, r, err := t.conn.NextReader()
	if err != nil {
		return 0, err
	}
	return mt, buf.readFrom(r)
}

// decode decodes a text frame, or a revision 3 binary one.
func (t *wsTransport) decode(mt int, data []byte) (eiopacket.Packet, error) {
	switch {
	case !t.v3:
		return eiopacket.DecodeText(data)
	case mt == websocket.BinaryMessage:
		return eiopacket.DecodeBinaryFrameV3(data)
	}
	return eiopacket.DecodeTextV3(data)
}

// closeInvalidText ends the session after a text frame that is not valid
// UTF-8, with close status 1007 as RFC 6455 requires and the reference's
// WebSocket layer sends. gorilla/websocket checks UTF-8 only in close
// frames, so the check is ours (eiopacket.DecodeText). Like the reference,
// the session ends with "transport error".
func (c *Conn) closeInvalidText(t *wsTransport, err error) {
	t.writeControl(opClose, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, "invalid UTF-8 sequence"))
	c.closeNow(ReasonTransportError, err)
}

// closeAfterReadError ends the session after a failed read. If this side
// was already closing, the peer is just answering our close frame, and the
// reason given when closing began stands.
func (c *Conn) closeAfterReadError(t *wsTransport, err error) {
	if errors.Is(err, errReadLimit) {
		drainAfterClose(t.netConn())
	}
	c.closeAfterFailure(classifyReadError(err))
}

// overLimitDrain is how long the rest of a frame over the size limit is
// read and thrown away after the close frame (1009) went out.
const overLimitDrain = 500 * time.Millisecond

// drainAfterClose reads what the peer still sends after a close frame
// (the rest of a frame over the limit, its own close frame) until it
// hangs up or overLimitDrain passes, so that the connection ends with a
// close handshake, as with the reference, rather than a reset for unread
// data.
func drainAfterClose(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(overLimitDrain))
	_, _ = io.Copy(io.Discard, conn)
}

// closeAfterFailure ends the session after its transport failed, unless
// this side was closing it already: then the failure is the close taking
// effect (the peer hanging up, a poll ended), and the reason given when
// closing began stands.
func (c *Conn) closeAfterFailure(reason CloseReason, err error) {
	c.mu.Lock()
	closing, closingReason := c.state == stateClosing, c.closeReason
	c.mu.Unlock()
	if closing {
		c.closeNow(closingReason, nil)
		return
	}
	c.closeNow(reason, err)
}

// classifyReadError maps a WebSocket read failure to the reference close
// reason: the peer going away is "transport close", anything else (a
// frame over the size limit, a broken frame) is "transport error".
func classifyReadError(err error) (CloseReason, error) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ReasonTransportClose, nil
	}
	return ReasonTransportError, err
}

// probeNoopDelay is how long after answering the probe a parked GET is
// ended with noop.
const probeNoopDelay = 50 * time.Millisecond

// serveProbe runs the server side of an upgrade on a fresh WebSocket, ws
// over bc: it answers "2probe" with "3probe", and on "5" moves the session
// onto ws and becomes its read loop. base64 is a revision 3 client's b64
// on the upgrade request.
func (c *Conn) serveProbe(ws *websocket.Conn, bc *batchConn, base64 bool) {
	c.mu.Lock()
	if c.state != stateOpen || c.transport != TransportPolling || c.poll.probe != nil {
		c.mu.Unlock()
		_ = ws.Close()
		return
	}
	c.poll.probe = ws
	c.mu.Unlock()
	abort := func() {
		c.mu.Lock()
		if c.poll.probe == ws {
			c.poll.probe, c.poll.probeNoop = nil, false
		}
		c.mu.Unlock()
		_ = ws.Close()
	}
	timeout := time.AfterFunc(c.srv.opts.UpgradeTimeout, abort)
	defer timeout.Stop()
	// Once the probe is answered, polling must end so that the client can
	// pause it. Like the reference, which checks every 100ms, the parked
	// GET gets its noop after a short delay; a client that sends "5" at once
	// (as the conformance suite does) upgrades before that.
	var noop *time.Timer
	defer func() {
		if noop != nil {
			noop.Stop()
		}
	}()
	endPoll := func() {
		c.mu.Lock()
		if c.poll.probe == ws {
			c.poll.probeNoop = true
			c.wakePollLocked()
		}
		c.mu.Unlock()
	}

	for {
		mt, data, err := ws.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			abort()
			return
		}
		p, err := eiopacket.DecodeText(data)
		switch {
		case err == nil && p.Type == eiopacket.Ping && string(p.Data) == "probe":
			_ = ws.SetWriteDeadline(time.Now().Add(c.limits.writeTimeout))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
				abort()
				return
			}
			if noop == nil {
				noop = time.AfterFunc(probeNoopDelay, endPoll)
			}
		case err == nil && p.Type == eiopacket.Upgrade:
			c.mu.Lock()
			// A session closing meanwhile upgrades too: the client has
			// stopped polling, so only the WebSocket can carry the rest.
			if c.poll.probe != ws || (c.state != stateOpen && c.state != stateClosing) {
				c.mu.Unlock()
				_ = ws.Close()
				return
			}
			timeout.Stop()
			c.poll.probe, c.poll.probeNoop = nil, false
			t := newWSTransport(ws, bc, c.eio3, base64)
			t.initIdle(c)
			c.transport, c.push = TransportWebSocket, t
			if c.counted {
				n := &c.srv.counters
				n.polling.Add(-1)
				n.websocket.Add(1)
				n.upgrades.Add(1)
			}
			c.wakePollLocked()
			finish := false
			switch {
			case len(c.out.packets) > 0:
				c.kickLocked() // the writer finishes a closing session
			case c.state == stateClosing:
				finish = !c.writing
			}
			upgraded := c.poll.onUpgrade
			c.poll.onUpgrade = nil
			c.mu.Unlock()
			go c.readLoop(t) // as in handshake: free the HTTP server's state
			if finish {
				c.finishClose()
			}
			for _, f := range upgraded {
				f()
			}
			return
		default:
			abort()
			return
		}
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
		opcode, lead := p.frame()
		if lead == nil {
			if err := ws.WriteMessage(opcode, p.Data); err != nil {
				return err
			}
			continue
		}
		w, err := ws.NextWriter(opcode)
		if err != nil {
			return err
		}
		_, _ = w.Write(lead)
		_, _ = w.Write(p.Data)
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// frame returns how p goes over WebSocket: its frame's opcode, and what
// comes before p.Data in the frame (the type character of a text packet;
// nothing before binary data or a raw frame).
func (p *outPacket) frame() (opcode int, lead []byte) {
	switch {
	case p.raw:
		return websocket.TextMessage, nil
	case p.Binary:
		return websocket.BinaryMessage, nil
	}
	i := p.Type - eiopacket.Open
	return websocket.TextMessage, typeChar[i : i+1]
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
