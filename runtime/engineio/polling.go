package engineio

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// serverPolling is a server session's long-polling side. Its fields are
// guarded by the session's mu.
type serverPolling struct {
	waiting bool          // a GET is parked waiting for data
	wake    chan struct{} // wakes the parked GET; buffered, capacity 1
	posting bool          // a POST is being read
	// probe is the WebSocket of an upgrade in progress; probeNoop says it
	// was answered a while ago, so GETs end with noop for the client to
	// pause polling.
	probe     *websocket.Conn
	probeNoop bool
	// base64 is a revision 3 client that asked for binary as base64.
	base64 bool
	// onUpgrade is what Conn.OnUpgrade registered, to run once the
	// session has upgraded.
	onUpgrade []func()
}

// pollHoldMargin is how much longer than pingInterval a GET may be parked.
const pollHoldMargin = 2 * time.Second

// servePoll answers a long-polling GET: it parks until there is something
// to send, then writes every queued packet as one payload.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.poll.waiting {
		c.mu.Unlock()
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonTransportError, ErrPollOverlap)
		return
	}
	c.poll.waiting = true
	// The protocol has something to send at least every pingInterval (a
	// ping); a GET parked longer than that and a margin belongs to a
	// session that is ending, so it ends with noop rather than holding a
	// connection until the heartbeat closes the session.
	hold := time.NewTimer(c.limits.pingInterval + pollHoldMargin)
	defer hold.Stop()
	for {
		if c.transport != TransportPolling {
			// The session upgraded while this GET was parked: a real
			// client's last poll has already ended with noop, so this is
			// a stray request, refused as the reference does.
			c.poll.waiting = false
			c.mu.Unlock()
			writeError(w, codeBadRequest, "")
			return
		}
		batch, closing, ok := c.takePollLocked()
		if ok {
			c.poll.waiting = false
			reason, closed := c.closeReason, c.state == stateClosed
			c.mu.Unlock()
			c.writePayload(w, r, batch)
			c.mu.Lock()
			c.out.sending = 0
			c.mu.Unlock()
			if closing {
				c.closeNow(reason, nil)
			} else if closed {
				c.srv.forget(c) // the raced GET of a client close has been answered
			}
			return
		}
		c.mu.Unlock()
		select {
		case <-c.poll.wake:
		case <-hold.C:
			c.mu.Lock()
			c.poll.waiting = false
			c.mu.Unlock()
			c.writePayload(w, r, []outPacket{{Packet: eiopacket.Packet{Type: eiopacket.Noop}}})
			return
		case <-r.Context().Done():
			c.mu.Lock()
			c.poll.waiting = false
			c.mu.Unlock()
			c.closeNow(ReasonTransportError, ErrPollAborted)
			return
		}
		c.mu.Lock()
	}
}

// takePollLocked returns what a GET should carry now, if anything: the
// queue, plus a close packet when the session is ending, or a lone noop
// when an upgrade needs the poll to end.
func (c *Conn) takePollLocked() (batch []outPacket, closing, ok bool) {
	closePacket := outPacket{Packet: eiopacket.Packet{Type: eiopacket.Close}}
	noop := []outPacket{{Packet: eiopacket.Packet{Type: eiopacket.Noop}}}
	switch {
	case c.state == stateClosed && c.closeReason == ReasonTransportClose:
		// The client closed the session; its parked GET just ends.
		return noop, false, true
	case c.state != stateOpen:
		batch = append(c.out.packets, closePacket)
		c.out.sending = c.out.bytes
		c.out.packets, c.out.bytes = nil, 0
		return batch, c.state == stateClosing, true
	case len(c.out.packets) > 0:
		batch = c.out.packets
		c.out.sending = c.out.bytes
		c.out.packets, c.out.bytes = nil, 0
		return batch, false, true
	case c.poll.probeNoop:
		return noop, false, true
	}
	return nil, false, false
}

// writePayload writes packets as a polling response, compressed when the
// client accepts it and the payload is large enough.
func (c *Conn) writePayload(w http.ResponseWriter, r *http.Request, packets []outPacket) {
	var body []byte
	var compressible, binary bool
	if c.eio3 {
		body, compressible, binary = appendPayloadV3(packets, !c.poll.base64)
	} else {
		body, compressible = appendPayload(nil, packets)
	}
	// The body is now the only copy this response needs: let go of the
	// messages so a response stuck on a slow client holds one copy.
	clear(packets)
	h := w.Header()
	if binary {
		h.Set("Content-Type", contentTypeBinary)
	} else {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}
	opts := &c.srv.opts
	if compressible && !opts.DisableHTTPCompression && len(body) >= opts.HTTPCompressionThreshold {
		if enc := pickEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			var zb bytes.Buffer
			if compress(&zb, enc, body) == nil {
				h.Set("Content-Encoding", enc)
				body = zb.Bytes()
			}
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// A client that does not read its response holds the connection, and
	// the payload, no longer than one WebSocket write may take.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(c.limits.writeTimeout))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendPayload encodes packets as a polling payload, reporting whether any
// of them may be compressed (the reference compresses a response unless
// every packet in it opted out).
func appendPayload(dst []byte, packets []outPacket) ([]byte, bool) {
	size := len(packets) - 1
	compressible := false
	for _, p := range packets {
		size += eiopacket.RecordLen(p.Packet)
		compressible = compressible || !p.noCompress
	}
	dst = slices.Grow(dst, size)
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, eiopacket.Separator)
		}
		dst = eiopacket.AppendRecord(dst, p.Packet)
	}
	return dst, compressible
}

// contentTypeBinary marks a revision 3 payload in binary form, both ways.
const contentTypeBinary = "application/octet-stream"

// appendPayloadV3 is appendPayload for a revision 3 session: binary form
// if the client takes binary and a packet is binary, text otherwise.
func appendPayloadV3(packets []outPacket, takesBinary bool) (body []byte, compressible, binary bool) {
	ps := make([]eiopacket.Packet, len(packets))
	for i, p := range packets {
		ps[i] = p.Packet
		compressible = compressible || !p.noCompress
	}
	body, binary = eiopacket.AppendPayloadV3(nil, ps, takesBinary)
	return body, compressible, binary
}

func pickEncoding(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name == "gzip" || name == "deflate" {
			return name
		}
	}
	return ""
}

func compress(dst io.Writer, encoding string, data []byte) error {
	var zw io.WriteCloser
	if encoding == "gzip" {
		zw = gzip.NewWriter(dst)
	} else {
		zw, _ = flate.NewWriter(dst, flate.DefaultCompression)
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	return zw.Close()
}

// errEnded stops payload decoding once a packet has ended the session.
var errEnded = errors.New("engineio: session ended")

// servePost reads a polling POST and delivers its packets in order.
func (c *Conn) servePost(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.poll.posting {
		c.mu.Unlock()
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonTransportError, ErrPollOverlap)
		return
	}
	if c.state == stateClosed {
		c.mu.Unlock()
		writeError(w, codeUnknownSID, "")
		return
	}
	c.poll.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.poll.posting = false
		c.mu.Unlock()
	}()

	// A payload over the limit is answered 413 and dropped, and the
	// session goes on, as the reference server does (its client takes the
	// 413 as a transport error and reconnects).
	limit := c.limits.maxPayload
	if r.ContentLength > limit {
		c.refuseOversize(w)
		return
	}
	// The body must arrive within pingTimeout, however it is trickled: a
	// slow body otherwise holds its connection and goroutine long after
	// the session has expired. This holds under any http.Server.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(c.limits.pingTimeout))
	buf := getMsgBuf()
	defer buf.release()
	if err := buf.readFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.closeNow(ReasonTransportError, err)
		return
	}
	if int64(len(buf.bytes())) > limit {
		c.refuseOversize(w)
		return
	}
	handle := func(p eiopacket.Packet) error {
		if c.onPacket(p) {
			return errEnded
		}
		return nil
	}
	var err error
	if c.eio3 {
		err = eiopacket.DecodePayloadV3(buf.bytes(), r.Header.Get("Content-Type") == contentTypeBinary, handle)
	} else {
		err = eiopacket.DecodePayload(buf.bytes(), handle)
	}
	if err != nil && err != errEnded {
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonParseError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// refuseOversize answers a POST whose payload is over the limit.
func (c *Conn) refuseOversize(w http.ResponseWriter) {
	if c.srv != nil {
		c.srv.opts.Logger.Debug("engineio: polling payload over MaxHTTPBufferSize dropped", "sid", c.id, "remote", c.RemoteAddr(), "limit", c.limits.maxPayload)
	}
	w.Header().Set("Connection", "close") // the body is not read
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}
