package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one client connection, speaking Socket.IO v5 over Engine.IO v4
// WebSocket frames by hand (or raw frames to an echo server), so that the
// tool costs as little as possible. A conn is used by one goroutine.
type conn struct {
	ws    frames
	raw   bool
	nsp   string // "" for the main namespace, else "/name,"
	batch *batchedConn
	pings int // pings answered
}

var errBadReply = errors.New("siobench: wrong reply")

// writeBufferSize fits the largest message a scenario sends (64 KiB of
// binary) and its frame header.
const writeBufferSize = 64<<10 + 64

var writeBuffers = &sync.Pool{}

// dialer spreads connections over several loopback source addresses, so
// that more than one port range of connections can be opened; the
// connection it makes is recorded in *bc.
func dialer(i int, bc **batchedConn) *websocket.Dialer {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%16))}
	return &websocket.Dialer{
		ReadBufferSize: 4096,
		// A message up to writeBufferSize goes out as one frame, as
		// browsers and Node's ws send it; with gorilla's default of 4 KiB
		// a 64 KiB attachment went as 16 continuation frames, which cost
		// every server a read per fragment. The buffers are pooled, taken
		// only while a message is written, so idle connections hold none.
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  writeBuffers,
		HandshakeTimeout: 10 * time.Second,
		NetDial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second, Control: deferPortChoice}
			nc, err := d.Dial(network, addr)
			if err != nil {
				return nil, err
			}
			*bc = &batchedConn{Conn: nc}
			return *bc, nil
		},
	}
}

// dial opens a connection: for Socket.IO, up to the CONNECT reply of the
// namespace nsp ("/" or "/name").
func dial(base string, raw bool, i int, nsp string) (*conn, error) {
	var bc *batchedConn
	ws, _, err := dialer(i, &bc).Dial(endpoint(base, raw), http.Header{})
	if err != nil {
		return nil, err
	}
	return open(&conn{ws: &reusingConn{Conn: ws}, raw: raw, batch: bc}, nsp)
}

// dialReceiver is dial on a leanConn, for connections that mostly read.
func dialReceiver(base string, raw bool, i int, nsp string) (*conn, error) {
	ws, err := dialLean(endpoint(base, raw), i)
	if err != nil {
		return nil, err
	}
	return open(&conn{ws: ws, raw: raw, batch: ws.nc}, nsp)
}

// endpoint is the WebSocket URL of the server at base.
func endpoint(base string, raw bool) string {
	if raw {
		return base + "/"
	}
	return base + "/socket.io/?EIO=4&transport=websocket"
}

// open takes a new connection up to the CONNECT reply of nsp; it closes
// the connection if that fails.
func open(c *conn, nsp string) (*conn, error) {
	if nsp != "/" && nsp != "" {
		c.nsp = nsp + ","
	}
	if c.raw {
		return c, nil
	}
	ws := c.ws
	if _, open, err := ws.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("siobench: bad open packet %q: %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40"+c.nsp)); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, msg, err := c.readText()
		if err != nil {
			ws.Close()
			return nil, err
		}
		if bytes.HasPrefix(msg, []byte("40"+c.nsp)) {
			return c, nil
		}
		if bytes.HasPrefix(msg, []byte("44"+c.nsp)) {
			ws.Close()
			return nil, fmt.Errorf("siobench: connection refused: %s", msg)
		}
	}
}

func (c *conn) close() { _ = c.ws.Close() }

// readText reads the next frame, answering Engine.IO pings on the way.
func (c *conn) readText() (int, []byte, error) {
	for {
		mt, msg, err := c.ws.ReadMessage()
		if err != nil {
			return 0, nil, err
		}
		if !c.raw && mt == websocket.TextMessage && len(msg) == 1 && msg[0] == '2' {
			if err := c.ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				return 0, nil, err
			}
			c.pings++
			continue
		}
		return mt, msg, nil
	}
}

// request is what one call sends and expects back.
type request struct {
	event   string // Socket.IO event
	text    []byte // JSON argument, for text calls
	binary  []byte // attachment, for binary calls
	want    []byte // expected ack attachment (binary calls); nil: the same as sent
	wantArg []byte // expected ack argument JSON (text calls); nil: the same as sent
	meta    bool   // binary calls: send call metadata (an id and a deadline) as the generated clients do
}

// send writes a call with ack id.
func (c *conn) send(r *request, id uint64) error {
	if c.raw {
		if r.binary != nil {
			return c.ws.WriteMessage(websocket.BinaryMessage, r.binary)
		}
		return c.ws.WriteMessage(websocket.TextMessage, r.text)
	}
	b := make([]byte, 0, 64+len(r.text))
	if r.binary != nil {
		b = append(b, "451-"...)
		b = append(b, c.nsp...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, `["`...)
		b = append(b, r.event...)
		b = append(b, `",{"_placeholder":true,"num":0}`...)
		if r.meta {
			// As the generated clients write it: the deadline, then the id.
			b = append(b, `,{"timeoutMs":30000,"id":"`...)
			b = strconv.AppendUint(b, id, 10)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			return err
		}
		return c.ws.WriteMessage(websocket.BinaryMessage, r.binary)
	}
	b = append(b, "42"...)
	b = append(b, c.nsp...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `["`...)
	b = append(b, r.event...)
	b = append(b, `",`...)
	b = append(b, r.text...)
	b = append(b, ']')
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// recv reads one reply and checks it against r; it returns the ack id
// (for raw echoes, 0).
func (c *conn) recv(r *request) (uint64, error) {
	mt, msg, err := c.readText()
	if err != nil {
		return 0, err
	}
	if c.raw {
		want := r.text
		if r.binary != nil {
			want = r.binary
		}
		if !bytes.Equal(msg, want) {
			return 0, errBadReply
		}
		return 0, nil
	}
	if mt != websocket.TextMessage {
		return 0, errBadReply
	}
	if r.binary != nil {
		rest, ok := bytes.CutPrefix(msg, []byte("461-"+c.nsp))
		if !ok {
			return 0, fmt.Errorf("%w: %q", errBadReply, msg)
		}
		id, rest := leadingUint(rest)
		if string(rest) != `[{"_placeholder":true,"num":0}]` {
			return 0, fmt.Errorf("%w: %q", errBadReply, msg)
		}
		mt, att, err := c.ws.ReadMessage()
		want := r.want
		if want == nil {
			want = r.binary
		}
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(att, want) {
			return 0, fmt.Errorf("%w: attachment of %d bytes", errBadReply, len(att))
		}
		return id, nil
	}
	rest, ok := bytes.CutPrefix(msg, []byte("43"+c.nsp))
	if !ok {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	id, rest := leadingUint(rest)
	want := r.wantArg
	if want == nil {
		want = r.text
	}
	if len(rest) != len(want)+2 || !bytes.Equal(rest[1:len(rest)-1], want) {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	return id, nil
}

func leadingUint(b []byte) (uint64, []byte) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, _ := strconv.ParseUint(string(b[:i]), 10, 64)
	return n, b[i:]
}
