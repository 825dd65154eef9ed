package engineio

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// batchConn is the net.Conn under a server WebSocket. Between begin and
// flush, writes are gathered and sent with one system call, so that a
// batch of frames (a Socket.IO packet and its attachments, or many queued
// packets) costs one write instead of one per frame. Outside a batch,
// writes go straight through. gorilla/websocket writes each frame whole
// under its own lock, so frames from another goroutine (control frames)
// never interleave with a frame in the buffer.
//
// Without per-message compression the server frames its data messages
// itself (writeFrames), which spares gorilla's per-message writer, lock and
// deadline; gorilla still writes the control frames.
type batchConn struct {
	net.Conn

	// mu guards buf, batching and writeDeadline, and makes each Write, and
	// each writeFrames call, whole on the wire.
	mu            sync.Mutex
	buf           *[]byte // pooled; nil between batches
	batching      bool
	writeDeadline time.Time // the write deadline last set on Conn

	// ownFrames is set when data frames are written by writeFrames rather
	// than through gorilla: when no compression was negotiated. masked is
	// set on the client side, whose frames must be masked.
	ownFrames, masked bool

	// reader is the buffered reader the WebSocket reads frames through;
	// what it holds tells the read loop whether more input is waiting.
	reader *bufio.Reader
}

// readBufferSize is the WebSocket read buffer: small, because every idle
// connection holds one, and payloads larger than it bypass it. gorilla
// adopts the hijacked reader only if it is larger than 256 bytes, and the
// read loop peeks through it (awaitInput), so it must stay above that.
// 512 bytes read as fast as 1 KiB under the pipelined benchmarks.
const readBufferSize = 512

// inputBuffered reports whether bytes of a next frame have already been
// read from the socket.
func (c *batchConn) inputBuffered() bool { return c.reader != nil && c.reader.Buffered() > 0 }

// maxBatchBytes bounds the gathered bytes; past it, the batch is written
// out early and large payloads go straight through.
const maxBatchBytes = 256 << 10

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching || c.buffered()+len(p) > maxBatchBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if !c.batching || len(p) > maxBatchBytes/2 {
			return c.Conn.Write(p)
		}
	}
	if c.buf == nil {
		c.buf = batchBufPool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *batchConn) buffered() int {
	if c.buf == nil {
		return 0
	}
	return len(*c.buf)
}

// begin starts gathering writes.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// flush ends the batch, writing what was gathered.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	return c.flushLocked()
}

func (c *batchConn) flushLocked() error {
	if c.buf == nil {
		return nil
	}
	var err error
	if len(*c.buf) > 0 {
		_, err = c.Conn.Write(*c.buf)
	}
	*c.buf = (*c.buf)[:0]
	batchBufPool.Put(c.buf)
	c.buf = nil
	return err
}

// SetWriteDeadline records the deadline, so that writeFrames can tell when
// it needs setting again.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setWriteDeadlineLocked(t)
}

func (c *batchConn) setWriteDeadlineLocked(t time.Time) error {
	c.writeDeadline = t
	return c.Conn.SetWriteDeadline(t)
}

// inPlacePayload is the size from which a payload is handed to the kernel
// where it lies (one writev with the frame headers) instead of being copied
// into the batch.
const inPlacePayload = 16 << 10

// writeFrames writes packets as WebSocket frames, the way
// writeFramesGorilla does (masked on the client side), but with one system
// call for the lot (a writev when a server passes large payloads in place)
// and no allocation. A write may
// stall for at most timeout: the deadline is moved on only once less than
// seven eighths of it remain, which saves resetting a runtime timer per
// batch.
func (c *batchConn) writeFrames(packets []outPacket, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil {
		return err
	}
	now := time.Now()
	if c.writeDeadline.Sub(now) < timeout-timeout/8 {
		if err := c.setWriteDeadlineLocked(now.Add(timeout)); err != nil {
			return err
		}
	}
	if c.buf == nil {
		c.buf = batchBufPool.Get().(*[]byte)
	}
	buf := *c.buf
	var vec net.Buffers // only when a payload is passed in place
	start := 0          // where the bytes not yet in vec begin
	var err error
	for i := range packets {
		p := &packets[i]
		opcode, lead := p.frame()
		switch {
		case c.masked:
			buf = appendMaskedFrame(buf, opcode, lead, p.Data)
		case len(p.Data) < inPlacePayload:
			buf = append(appendFrameHeader(buf, opcode, len(lead)+len(p.Data)), lead...)
			buf = append(buf, p.Data...)
		default:
			buf = append(appendFrameHeader(buf, opcode, len(lead)+len(p.Data)), lead...)
			vec = append(vec, buf[start:], p.Data)
			start = len(buf)
		}
		if len(buf)-start >= maxBatchBytes {
			vec = append(vec, buf[start:])
			if err = writeVec(c.Conn, vec); err != nil {
				break
			}
			buf, vec, start = buf[:0], vec[:0], 0
		}
	}
	if err == nil && (len(vec) > 0 || len(buf) > start) {
		err = writeVec(c.Conn, append(vec, buf[start:]))
	}
	clear(vec) // drop the references to payloads
	*c.buf = buf[:0]
	if cap(buf) <= 2*maxBatchBytes {
		batchBufPool.Put(c.buf)
	}
	c.buf = nil
	return err
}

// writeVec writes vec with one system call where the connection allows.
func writeVec(w net.Conn, vec net.Buffers) error {
	if len(vec) == 1 {
		_, err := w.Write(vec[0])
		return err
	}
	_, err := vec.WriteTo(w)
	return err
}

// appendMaskedFrame appends a final frame as a client sends it (RFC 6455
// section 5.3): the header with a fresh masking key, then lead and data
// masked with it. The data is copied, as masking cannot be done in place
// on a buffer that may be shared.
func appendMaskedFrame(b []byte, opcode int, lead, data []byte) []byte {
	n := len(lead) + len(data)
	b = appendFrameHeader(b, opcode, n)
	b[len(b)-lengthBytes(n)] |= 0x80 // the mask bit, in the length's first byte
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(append(b, lead...), data...)
	maskBytes(b[start:], key)
	return b
}

// lengthBytes is how many bytes appendFrameHeader spends on a payload
// length of n, the one holding the mask bit included.
func lengthBytes(n int) int {
	switch {
	case n <= 125:
		return 1
	case n <= 0xFFFF:
		return 3
	}
	return 9
}

// maskBytes XORs b with the masking key, repeated: 64 bytes per round
// where it can (one bounds check for eight words, which made it four times
// faster than a word per round on 64 KiB, where it was a fifth of the
// server's time), then a word, then bytes.
func maskBytes(b []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	for len(b) >= 64 {
		_ = b[63]
		binary.LittleEndian.PutUint64(b[0:], binary.LittleEndian.Uint64(b[0:])^k64)
		binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^k64)
		binary.LittleEndian.PutUint64(b[16:], binary.LittleEndian.Uint64(b[16:])^k64)
		binary.LittleEndian.PutUint64(b[24:], binary.LittleEndian.Uint64(b[24:])^k64)
		binary.LittleEndian.PutUint64(b[32:], binary.LittleEndian.Uint64(b[32:])^k64)
		binary.LittleEndian.PutUint64(b[40:], binary.LittleEndian.Uint64(b[40:])^k64)
		binary.LittleEndian.PutUint64(b[48:], binary.LittleEndian.Uint64(b[48:])^k64)
		binary.LittleEndian.PutUint64(b[56:], binary.LittleEndian.Uint64(b[56:])^k64)
		b = b[64:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// appendFrameHeader appends the header of a final, unmasked frame of the
// given opcode and payload length (RFC 6455 section 5.2).
func appendFrameHeader(b []byte, opcode, n int) []byte {
	b = append(b, 0x80|byte(opcode))
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
}

// offersDeflate reports whether a WebSocket handshake request offers
// permessage-deflate, which gorilla accepts when compression is enabled.
// A wrong answer costs only speed: uncompressed frames are valid either way.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

var batchBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// batchWriter wraps a ResponseWriter so that the WebSocket upgrade hijacks
// a batchConn.
type batchWriter struct {
	http.ResponseWriter
	conn *batchConn
}

func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: conn}
	// gorilla writes the handshake response through rw's writer; point it
	// at the batchConn too so that nothing bypasses it.
	rw.Writer.Reset(w.conn)
	if rw.Reader.Buffered() > 0 {
		// The client sent frames before the handshake finished; gorilla
		// refuses that when it sees the buffered bytes.
		return w.conn, rw, nil
	}
	// Frames are read through a reader of our own, which gorilla adopts
	// (the upgrader's ReadBufferSize is 0), so that the read loop can see
	// what is buffered.
	w.conn.reader = newReader(w.conn)
	return w.conn, bufio.NewReadWriter(w.conn.reader, rw.Writer), nil
}
