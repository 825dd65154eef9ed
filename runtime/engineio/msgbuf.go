package engineio

import (
	"io"
	"sync"
)

// msgBuf is a pooled buffer that one inbound message (a WebSocket frame or
// a polling POST body) is read into whole. The message is delivered from it
// and the buffer goes back to the pool, so an idle connection owns no read
// buffer beyond the small socket reader, and a busy one reuses the same
// memory instead of growing a fresh buffer per message.
type msgBuf struct{ b []byte }

var msgBufPool = sync.Pool{New: func() any { return &msgBuf{b: make([]byte, 0, 4<<10)} }}

// maxPooledMsgBuf keeps an occasional huge message from pinning memory; it
// covers the default payload limit, so large binary attachments reuse
// their buffers too.
const maxPooledMsgBuf = 1 << 20

func getMsgBuf() *msgBuf { return msgBufPool.Get().(*msgBuf) }

// readFrom replaces the buffer's contents with everything r yields until
// io.EOF. It grows the buffer only when it is full, so a buffer that has
// held a message of some size takes the next one of that size without
// allocating.
func (m *msgBuf) readFrom(r io.Reader) error {
	b := m.b[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			m.b = b
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// bytes returns the message read last.
func (m *msgBuf) bytes() []byte { return m.b }

// release returns the buffer to the pool; its bytes must not be used after.
func (m *msgBuf) release() {
	if cap(m.b) <= maxPooledMsgBuf {
		m.b = m.b[:0]
		msgBufPool.Put(m)
	}
}
