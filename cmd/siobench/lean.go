package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// frames is what a scenario needs of a WebSocket connection: gorilla's
// *websocket.Conn, or a leanConn.
type frames interface {
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
	SetReadDeadline(t time.Time) error
	Close() error
}

// leanConn is a client WebSocket cut down to what a receiver needs: it
// reads a server's frames straight out of one buffer, many per system call
// when the server has batched them, and returns each message in place,
// without the reader and copy gorilla makes per message. In the fan-out
// scenarios a thousand receivers share the load tool's one core; with
// gorilla they, not the server, set the ceiling on delivered messages.
//
// It takes what RFC 6455 lets a server send but no fragmented messages:
// the servers measured here send each message as one frame, and a
// fragment fails the run rather than being misread.
type leanConn struct {
	nc   *batchedConn // writes may be gathered, as for gorilla's conns
	buf  []byte
	r, w int    // buf[r:w] is read but not yet returned
	out  []byte // the frame being written
}

// leanBufferSize holds a hundred or so fan-out messages: one read takes
// all a server has batched, at 8 KiB per receiver.
const leanBufferSize = 8 << 10

// errFragmented reports a message split over frames, which leanConn
// does not join.
var errFragmented = errors.New("siobench: the server sent a fragmented message")

// dialLean opens a WebSocket to rawURL (ws://host:port/path?query) from
// the i-th loopback source address, as dialer does for gorilla.
func dialLean(rawURL string, i int) (*leanConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%16))}, Timeout: 10 * time.Second, Control: deferPortChoice}
	nc, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	c := &leanConn{nc: &batchedConn{Conn: nc}, buf: make([]byte, leanBufferSize)}
	if err := c.handshake(u); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake sends the opening request and checks the server's answer;
// what follows the answer in the buffer is the first frames.
func (c *leanConn) handshake(u *url.URL) error {
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}
	for {
		if end := bytes.Index(c.buf[:c.w], []byte("\r\n\r\n")); end >= 0 {
			head := c.buf[:end]
			c.r = end + 4
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
				line, _, _ := bytes.Cut(head, []byte("\r\n"))
				return fmt.Errorf("siobench: the server refused the WebSocket: %q", line)
			}
			sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			if !bytes.Contains(bytes.ToLower(head), bytes.ToLower([]byte("\r\nSec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])))) {
				return errors.New("siobench: the server's Sec-WebSocket-Accept is wrong")
			}
			return nil
		}
		if c.w == len(c.buf) {
			return errors.New("siobench: the server's handshake answer is too long")
		}
		n, err := c.nc.Read(c.buf[c.w:])
		if err != nil {
			return err
		}
		c.w += n
	}
}

// ReadMessage returns the next data message, answering pings and
// returning an error on a close frame. The bytes are valid until the next
// call.
func (c *leanConn) ReadMessage() (int, []byte, error) {
	for {
		op, payload, err := c.nextFrame()
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case websocket.TextMessage, websocket.BinaryMessage:
			return op, payload, nil
		case websocket.PingMessage:
			if err := c.WriteMessage(websocket.PongMessage, payload); err != nil {
				return 0, nil, err
			}
		case websocket.CloseMessage:
			return 0, nil, &websocket.CloseError{Code: websocket.CloseNormalClosure, Text: "closed by the server"}
		case websocket.PongMessage:
		default:
			return 0, nil, fmt.Errorf("siobench: frame with opcode %d", op)
		}
	}
}

// nextFrame reads one whole frame and returns its opcode and payload.
func (c *leanConn) nextFrame() (int, []byte, error) {
	if err := c.fill(2); err != nil {
		return 0, nil, err
	}
	b0, b1 := c.buf[c.r], c.buf[c.r+1]
	if b1&0x80 != 0 {
		return 0, nil, errors.New("siobench: the server masked a frame")
	}
	op := int(b0 & 0x0f)
	if b0&0x80 == 0 || op == 0 {
		return 0, nil, errFragmented
	}
	head, size := 2, int(b1&0x7f)
	switch size {
	case 126:
		head = 4
	case 127:
		head = 10
	}
	if err := c.fill(head); err != nil {
		return 0, nil, err
	}
	switch head {
	case 4:
		size = int(binary.BigEndian.Uint16(c.buf[c.r+2:]))
	case 10:
		n := binary.BigEndian.Uint64(c.buf[c.r+2:])
		if n > 1<<30 {
			return 0, nil, fmt.Errorf("siobench: a frame of %d bytes", n)
		}
		size = int(n)
	}
	if err := c.fill(head + size); err != nil {
		return 0, nil, err
	}
	payload := c.buf[c.r+head : c.r+head+size]
	c.r += head + size
	return op, payload, nil
}

// fill makes at least n unreturned bytes available in buf[r:w], moving
// them to the front or growing buf when they would not fit.
func (c *leanConn) fill(n int) error {
	if c.w-c.r >= n {
		return nil
	}
	if c.r+n > len(c.buf) {
		if n > len(c.buf) {
			grown := make([]byte, n+leanBufferSize)
			c.w = copy(grown, c.buf[c.r:c.w])
			c.buf = grown
		} else {
			c.w = copy(c.buf, c.buf[c.r:c.w])
		}
		c.r = 0
	}
	for c.w-c.r < n {
		m, err := c.nc.Read(c.buf[c.w:])
		if err != nil {
			return err
		}
		c.w += m
	}
	return nil
}

// WriteMessage sends data as one masked frame, as a client must.
func (c *leanConn) WriteMessage(messageType int, data []byte) error {
	out := append(c.out[:0], 0x80|byte(messageType))
	switch n := len(data); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	out = append(out, mask[:]...)
	start := len(out)
	out = append(out, data...)
	for i := range out[start:] {
		out[start+i] ^= mask[i&3]
	}
	c.out = out
	_, err := c.nc.Write(out)
	return err
}

// SetReadDeadline bounds the next reads.
func (c *leanConn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close closes the connection without a closing handshake, as the
// scenarios close gorilla's.
func (c *leanConn) Close() error { return c.nc.Close() }

// reusingConn is gorilla's connection reading every message into one
// buffer kept for the next, instead of the fresh, grown-by-doubling one
// ReadMessage returns: for 64 KiB attachments that copying was most of
// what the load tool spent per reply. The bytes are valid until the next
// ReadMessage.
type reusingConn struct {
	*websocket.Conn
	buf []byte
}

// ReadMessage returns the next data message.
func (c *reusingConn) ReadMessage() (int, []byte, error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
	}
	c.buf = b
	return mt, b, nil
}
