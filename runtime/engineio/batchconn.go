package engineio

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// batchConn is the net.Conn under a server WebSocket. Between begin and
// flush, writes are gathered and sent with one system call, so that a
// batch of frames (a Socket.IO packet and its attachments, or many queued
// packets) costs one write instead of one per frame. Outside a batch,
// writes go straight through. gorilla/websocket writes each frame whole
// under its own lock, so frames from another goroutine (control frames)
// never interleave with a frame in the buffer.
type batchConn struct {
	net.Conn

	// mu guards buf and batching.
	mu       sync.Mutex
	buf      *[]byte // pooled; nil between batches
	batching bool

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
	w.conn.reader = bufio.NewReaderSize(w.conn, readBufferSize)
	return w.conn, bufio.NewReadWriter(w.conn.reader, rw.Writer), nil
}
