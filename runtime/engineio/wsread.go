package engineio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Reading a client's WebSocket frames without gorilla. A server WebSocket
// that frames its own data messages (no compression negotiated: see
// batchConn.ownFrames) reads them itself too, straight from the batchConn's
// reader, and lets gorilla's Conn go once the upgrade is done. That Conn,
// its write lock and its handlers are about 0.5 KiB of every connection,
// and the largest item an idle connection kept (PERFORMANCE.md, "Idle
// connections"); gorilla also allocates a reader per message. gorilla still
// performs the upgrade, serves the upgrade probe, the client side and
// every connection with per-message compression.
//
// The reader follows RFC 6455 section 5 as gorilla's server side does, with
// the same answers, so nothing changes on the wire: a protocol violation
// gets a close frame with status 1002 and the reason gorilla gives, a
// message over the limit gets 1009, a close frame is answered with its own
// status, a ping with a pong of the same payload.

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0
	opText         = websocket.TextMessage
	opBinary       = websocket.BinaryMessage
	opClose        = websocket.CloseMessage
	opPing         = websocket.PingMessage
	opPong         = websocket.PongMessage
)

// maxControlPayload is the largest payload of a control frame.
const maxControlPayload = 125

// controlWriteWait bounds the write of a control frame, as gorilla's.
const controlWriteWait = time.Second

// errReadLimit is gorilla's, so that a message over the limit is handled
// the same whichever reads it.
var errReadLimit = websocket.ErrReadLimit

// ownFrameReader reports whether a server WebSocket over bc reads its
// frames itself: it writes them itself, and gorilla adopted the batchConn's
// reader, so no input is left inside gorilla's Conn.
func ownFrameReader(bc *batchConn) bool {
	return bc != nil && bc.ownFrames && !bc.masked && bc.reader != nil
}

// readFrames reads the next data message into buf, answering the control
// frames that come before or between its fragments, and returns its
// opcode (opText or opBinary). limit bounds the message's size (0: no
// bound). Errors are those of gorilla's NextReader: a *websocket.CloseError
// for a close frame, errReadLimit for a message over the limit, io.EOF or
// the connection's error when it ends, and a protocol error otherwise.
func (t *wsTransport) readFrames(buf *msgBuf, limit int64) (int, error) {
	r := t.batch.reader
	b := buf.b[:0]
	msgOpcode := -1 // the message's, once its first frame is read
	var size int64
	for {
		hdr, err := take(r, 2)
		if err != nil {
			return 0, err
		}
		fin, opcode := hdr[0]&0x80 != 0, int(hdr[0]&0x0f)
		n := int64(hdr[1] & 0x7f)
		if problems := frameProblems(hdr[0], hdr[1], n, msgOpcode >= 0); problems != "" {
			return 0, t.protocolError(problems)
		}
		switch n {
		case 126:
			if hdr, err = take(r, 2); err != nil {
				return 0, err
			}
			n = int64(binary.BigEndian.Uint16(hdr))
		case 127:
			if hdr, err = take(r, 8); err != nil {
				return 0, err
			}
			u := binary.BigEndian.Uint64(hdr)
			if u > math.MaxInt64 {
				return 0, errReadLimit
			}
			n = int64(u)
		}
		if hdr, err = take(r, 4); err != nil {
			return 0, err
		}
		key := [4]byte(hdr)
		if opcode >= opClose {
			if err := t.controlFrame(opcode, n, key); err != nil {
				return 0, err
			}
			continue
		}
		if msgOpcode < 0 {
			msgOpcode = opcode
		}
		if size += n; size < 0 || (limit > 0 && size > limit) {
			t.writeControl(opClose, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""))
			return 0, errReadLimit
		}
		start := len(b)
		b, err = readPayload(r, b, n)
		buf.b = b // keeps what it grew to, for the next message
		if err != nil {
			return 0, err
		}
		maskBytes(b[start:], key)
		if fin {
			return msgOpcode, nil
		}
	}
}

// take reads n bytes (at most the reader's size) and returns them in the
// reader's buffer, valid until its next read. It spares a frame header,
// read a few bytes at a time, a heap allocation per message: a buffer
// passed to an io.Reader escapes.
func take(r *bufio.Reader, n int) ([]byte, error) {
	p, err := r.Peek(n)
	if err != nil {
		if err == io.EOF && len(p) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	_, _ = r.Discard(n)
	return p, nil
}

// frameProblems checks a frame's first two header bytes (n is the 7-bit
// length) and returns what is wrong with them, in gorilla's words joined
// as gorilla joins them, or "". inMessage says an unfinished fragmented
// message is being read.
func frameProblems(b0, b1 byte, n int64, inMessage bool) string {
	var problems []string
	if b0&0x40 != 0 {
		problems = append(problems, "RSV1 set")
	}
	if b0&0x20 != 0 {
		problems = append(problems, "RSV2 set")
	}
	if b0&0x10 != 0 {
		problems = append(problems, "RSV3 set")
	}
	fin, opcode := b0&0x80 != 0, int(b0&0x0f)
	switch opcode {
	case opClose, opPing, opPong:
		if n > maxControlPayload {
			problems = append(problems, "len > 125 for control")
		}
		if !fin {
			problems = append(problems, "FIN not set on control")
		}
	case opText, opBinary:
		if inMessage {
			problems = append(problems, "data before FIN")
		}
	case opContinuation:
		if !inMessage {
			problems = append(problems, "continuation after FIN")
		}
	default:
		problems = append(problems, "bad opcode "+strconv.Itoa(opcode))
	}
	if b1&0x80 == 0 {
		// A client's frames must be masked (RFC 6455 section 5.1).
		problems = append(problems, "bad MASK")
	}
	return strings.Join(problems, ", ")
}

// readPayload appends n bytes from r to b. The buffer grows only as the
// bytes arrive, so a header announcing a large frame costs nothing until
// its payload comes.
func readPayload(r io.Reader, b []byte, n int64) ([]byte, error) {
	for n > 0 {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := int64(cap(b) - len(b))
		got, err := r.Read(b[len(b) : len(b)+int(min(room, n))])
		b = b[:len(b)+got]
		n -= int64(got)
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return b, err
		}
	}
	return b, nil
}

// controlFrame reads and answers a control frame of n bytes (at most
// maxControlPayload, checked before) masked with key. It returns the error
// that ends the read: a *websocket.CloseError after a close frame.
func (t *wsTransport) controlFrame(opcode int, n int64, key [4]byte) error {
	var payload [maxControlPayload]byte
	in, err := take(t.batch.reader, int(n))
	if err != nil {
		return err
	}
	p := payload[:copy(payload[:], in)]
	maskBytes(p, key)
	switch opcode {
	case opPing:
		// A pong that cannot be written shows as an error on a later read
		// or write; the read goes on, as with gorilla.
		t.writeControl(opPong, p)
	case opClose:
		code, text := websocket.CloseNoStatusReceived, ""
		if len(p) >= 2 {
			code = int(binary.BigEndian.Uint16(p))
			if !validReceivedCloseCode(code) {
				return t.protocolError("bad close code " + strconv.Itoa(code))
			}
			text = string(p[2:])
			if !utf8.ValidString(text) {
				return t.protocolError("invalid utf8 payload in close frame")
			}
		}
		t.writeControl(opClose, websocket.FormatCloseMessage(code, ""))
		return &websocket.CloseError{Code: code, Text: text}
	}
	return nil
}

// validReceivedCloseCode reports whether a peer may send code in a close
// frame (RFC 6455 section 7.4): the codes gorilla accepts, 1000 to 1013
// but those reserved (1004) or for local use only (1005, 1006), and the
// ranges for libraries and applications.
func validReceivedCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code < 1000 || code > 1013:
		return false
	}
	return code != 1004 && code != websocket.CloseNoStatusReceived && code != websocket.CloseAbnormalClosure
}

// protocolError answers a framing violation with close status 1002 and
// returns the error that ends the read.
func (t *wsTransport) protocolError(message string) error {
	data := websocket.FormatCloseMessage(websocket.CloseProtocolError, message)
	if len(data) > maxControlPayload {
		data = data[:maxControlPayload]
	}
	t.writeControl(opClose, data)
	return errors.New("websocket: " + message)
}

// writeControl writes a control frame, through gorilla when it owns the
// connection's writes.
func (t *wsTransport) writeControl(opcode int, payload []byte) {
	if t.conn != nil {
		_ = t.conn.WriteControl(opcode, payload, time.Now().Add(controlWriteWait))
		return
	}
	_ = t.batch.writeControl(opcode, payload)
}

// writeControl writes one unmasked control frame whole, between the data
// frames of other writers, within controlWriteWait (or the pending write
// deadline, if later).
func (c *batchConn) writeControl(opcode int, payload []byte) error {
	var frame [2 + maxControlPayload]byte
	b := append(appendFrameHeader(frame[:0], opcode, len(payload)), payload...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil {
		return err
	}
	if until := time.Now().Add(controlWriteWait); c.writeDeadline.Before(until) {
		if err := c.setWriteDeadlineLocked(until); err != nil {
			return err
		}
	}
	_, err := c.Conn.Write(b)
	return err
}
