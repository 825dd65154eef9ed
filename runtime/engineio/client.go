package engineio

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-dev/sio/runtime/engineio/eiopacket"
)

// DialOptions configures Dial. The zero value connects by HTTP long-polling
// and then upgrades to WebSocket, like the reference client.
type DialOptions struct {
	// Path is the server's Engine.IO path. Default "/engine.io/".
	Path string
	// Query is added to every request's query string.
	Query url.Values
	// Header is added to every HTTP request and the WebSocket handshake.
	Header http.Header
	// Transports lists the transports that may be used. The session opens
	// on the first; with TransportWebSocket first, no polling is done.
	// Default [polling, websocket].
	Transports []string
	// DisableUpgrade keeps a polling session on polling.
	DisableUpgrade bool
	// TLSConfig is used for https and wss URLs.
	TLSConfig *tls.Config
	// HTTPClient sends polling requests. Default: a client using TLSConfig.
	HTTPClient *http.Client
	// UpgradeTimeout bounds the WebSocket probe. Default 10s.
	UpgradeTimeout time.Duration
	// WriteTimeout bounds one write. Default 10s.
	WriteTimeout time.Duration
	// MaxPendingBytes bounds queued outbound data; over it the session
	// closes with ErrSlowConsumer. Default 16 MiB.
	MaxPendingBytes int
}

// handshakeData is the JSON carried by the open packet.
type handshakeData struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// ErrHandshake reports a server answer that does not open a session.
var ErrHandshake = errors.New("engineio: handshake failed")

// Dial opens a session with the Engine.IO server at rawURL (http, https, ws
// or wss; the path comes from opts), delivering what arrives to recv. ctx
// bounds the handshake only; the session lives until it is closed.
func Dial(ctx context.Context, rawURL string, recv Receiver, opts *DialOptions) (*Conn, error) {
	o := DialOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = "/engine.io/"
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 16 << 20
	}
	d := &dialer{opts: o}
	if o.HTTPClient == nil {
		d.ownTransport = &http.Transport{TLSClientConfig: o.TLSConfig, Proxy: http.ProxyFromEnvironment}
		d.opts.HTTPClient = &http.Client{Transport: d.ownTransport}
	}
	if err := d.parseURL(rawURL); err != nil {
		return nil, err
	}
	if o.Transports[0] == TransportWebSocket {
		return d.dialWebSocket(ctx, recv)
	}
	if o.Transports[0] != TransportPolling {
		return nil, fmt.Errorf("engineio: unknown transport %q", o.Transports[0])
	}
	c, err := d.dialPolling(ctx, recv)
	if err != nil {
		d.closeIdle()
	}
	return c, err
}

// dialer holds what a client needs to build its requests.
type dialer struct {
	opts    DialOptions
	httpURL url.URL // http(s)://host/path with the base query
	wsURL   url.URL
	// ownTransport is the HTTP transport made for this session when the
	// options named no client; nothing else uses it.
	ownTransport *http.Transport
}

// closeIdle closes the kept-alive connections of the session's own HTTP
// transport once it makes no more requests: a transport keeps them open
// indefinitely, so a client that reconnects would gather one or two per
// session.
func (d *dialer) closeIdle() {
	if d.ownTransport != nil {
		d.ownTransport.CloseIdleConnections()
	}
}

func (d *dialer) parseURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("engineio: bad URL: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return fmt.Errorf("engineio: bad URL scheme %q", u.Scheme)
	}
	path := d.opts.Path
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	u.Path = path
	q := url.Values{}
	for k, v := range d.opts.Query {
		q[k] = slices.Clone(v)
	}
	q.Set("EIO", "4")
	u.RawQuery = q.Encode()
	d.httpURL = *u
	d.wsURL = *u
	d.wsURL.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	return nil
}

func (d *dialer) url(base url.URL, transport, sid string) string {
	q := base.Query()
	q.Set("transport", transport)
	if sid != "" {
		q.Set("sid", sid)
	}
	base.RawQuery = q.Encode()
	return base.String()
}

func (d *dialer) wsDialer() *websocket.Dialer {
	return &websocket.Dialer{
		TLSClientConfig:  d.opts.TLSConfig,
		HandshakeTimeout: 45 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferPool:  writeBufPool,
		Proxy:            http.ProxyFromEnvironment,
	}
}

// maxHeartbeatMs bounds the ping interval and timeout a server may ask
// for, so that their sum still fits a time.Duration (146 years).
const maxHeartbeatMs = math.MaxInt64 / int64(time.Millisecond) / 2

func (d *dialer) newConn(h handshakeData, transport string, recv Receiver) (*Conn, error) {
	if h.SID == "" || h.PingInterval <= 0 || h.PingTimeout <= 0 ||
		h.PingInterval > maxHeartbeatMs || h.PingTimeout > maxHeartbeatMs {
		return nil, fmt.Errorf("%w: bad open packet", ErrHandshake)
	}
	c := &Conn{
		id:        h.SID,
		isClient:  true,
		recv:      recv,
		transport: transport,
		limits: &connLimits{
			pingInterval: time.Duration(h.PingInterval) * time.Millisecond,
			pingTimeout:  time.Duration(h.PingTimeout) * time.Millisecond,
			maxPending:   d.opts.MaxPendingBytes,
			writeTimeout: d.opts.WriteTimeout,
			maxPayload:   h.MaxPayload,
		},
	}
	return c, nil
}

func parseOpen(p eiopacket.Packet) (handshakeData, error) {
	var h handshakeData
	if p.Type != eiopacket.Open {
		return h, fmt.Errorf("%w: first packet is %v, not open", ErrHandshake, p.Type)
	}
	if err := json.Unmarshal(p.Data, &h); err != nil {
		return h, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return h, nil
}

func (d *dialer) dialWebSocket(ctx context.Context, recv Receiver) (*Conn, error) {
	t, err := d.openWebSocket(ctx, "")
	if err != nil {
		return nil, err
	}
	ws := t.conn
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	mt, data, err := ws.ReadMessage()
	stop()
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	if mt != websocket.TextMessage {
		_ = ws.Close()
		return nil, fmt.Errorf("%w: binary open frame", ErrHandshake)
	}
	p, err := eiopacket.DecodeText(data)
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	h, err := parseOpen(p)
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	c, err := d.newConn(h, TransportWebSocket, recv)
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	c.push = t
	c.startHeartbeat()
	go c.readLoop(t)
	return c, nil
}

// openWebSocket dials the session's WebSocket. Its TCP connection is a
// batchConn that frames data messages itself, masked, so that a batch of
// them (an event and its attachments, or whatever queued up) leaves in
// one system call without gorilla's writer, as on the server side. The
// client offers no compression, so none is ever negotiated.
func (d *dialer) openWebSocket(ctx context.Context, sid string) (*wsTransport, error) {
	var bc *batchConn
	wd := d.wsDialer()
	wd.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc = &batchConn{Conn: conn, ownFrames: true, masked: true}
		return bc, nil
	}
	ws, resp, err := wd.DialContext(ctx, d.url(d.wsURL, TransportWebSocket, sid), d.opts.Header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("%w: HTTP %d %s", ErrHandshake, resp.StatusCode, bytes.TrimSpace(body))
		}
		return nil, fmt.Errorf("engineio: dial: %w", err)
	}
	return &wsTransport{conn: ws, batch: bc}, nil
}

func (d *dialer) dialPolling(ctx context.Context, recv Receiver) (*Conn, error) {
	body, err := d.roundTrip(ctx, http.MethodGet, d.url(d.httpURL, TransportPolling, ""), nil)
	if err != nil {
		return nil, err
	}
	var packets []eiopacket.Packet
	if err := eiopacket.DecodePayload(body, func(p eiopacket.Packet) error {
		packets = append(packets, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	h, err := parseOpen(packets[0])
	if err != nil {
		return nil, err
	}
	c, err := d.newConn(h, TransportPolling, recv)
	if err != nil {
		return nil, err
	}
	root, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &clientPolling{d: d, url: d.url(d.httpURL, TransportPolling, h.SID), ctx: root, cancel: cancel, pollDone: make(chan struct{})}
	c.push = p
	c.startHeartbeat()
	for _, extra := range packets[1:] {
		c.onPacket(extra)
	}
	go p.pollLoop(c)
	if !d.opts.DisableUpgrade && slices.Contains(h.Upgrades, TransportWebSocket) && slices.Contains(d.opts.Transports, TransportWebSocket) {
		go p.upgrade(c)
	}
	return c, nil
}

// roundTrip sends one HTTP request and returns the body of a 200 answer.
func (d *dialer) roundTrip(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range d.opts.Header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := d.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d %s", ErrHandshake, resp.StatusCode, bytes.TrimSpace(data))
	}
	return data, nil
}

// clientPolling is the client side of HTTP long-polling: a goroutine that
// keeps one GET outstanding, and POSTs made by the connection's write loop.
type clientPolling struct {
	d      *dialer
	url    string
	ctx    context.Context // cancelled when the session closes or upgrades
	cancel context.CancelFunc
	// pollDone is closed when pollLoop returns.
	pollDone chan struct{}

	// Guarded by the Conn's mu: an upgrade in progress holds back new
	// requests, and writerPaused is closed when the write loop has stopped.
	pausing      bool
	writerPaused chan struct{}
}

// write implements pushTransport.
func (p *clientPolling) write(c *Conn, packets []outPacket) error { return p.post(c, packets) }

// sayGoodbye implements pushTransport.
func (p *clientPolling) sayGoodbye(c *Conn) { p.sendClosePacket(c) }

// stop implements pushTransport: the request in flight is abandoned, and
// the kept-alive connections closed.
func (p *clientPolling) stop() {
	p.cancel()
	p.d.closeIdle()
}

func (p *clientPolling) pollLoop(c *Conn) {
	defer close(p.pollDone)
	defer func() {
		if p.ctx.Err() != nil {
			// A poll that completed as the session stopped left its
			// connection idle after stop closed the others.
			p.d.closeIdle()
		}
	}()
	for {
		c.mu.Lock()
		pausing := p.pausing
		c.mu.Unlock()
		if pausing {
			return
		}
		body, err := p.d.roundTrip(p.ctx, http.MethodGet, p.url, nil)
		if err != nil {
			if p.ctx.Err() == nil {
				c.closeAfterFailure(ReasonTransportError, err)
			}
			return
		}
		if err := eiopacket.DecodePayload(body, func(pk eiopacket.Packet) error {
			if c.onPacket(pk) {
				return errEnded
			}
			return nil
		}); err != nil {
			if err != errEnded {
				c.closeNow(ReasonParseError, err)
			}
			return
		}
	}
}

// post sends packets in as few POSTs as the server's maxPayload allows.
func (p *clientPolling) post(c *Conn, packets []outPacket) error {
	for len(packets) > 0 {
		n, size := 0, 0
		for n < len(packets) {
			rl := eiopacket.RecordLen(packets[n].Packet)
			if n > 0 && int64(size+1+rl) > c.limits.maxPayload {
				break
			}
			size += rl + 1
			n++
		}
		body, _ := appendPayload(nil, packets[:n])
		ctx, cancel := context.WithTimeout(p.ctx, c.limits.writeTimeout)
		_, err := p.d.roundTrip(ctx, http.MethodPost, p.url, body)
		cancel()
		if err != nil {
			return err
		}
		packets = packets[n:]
	}
	return nil
}

// sendClosePacket tells the server the session is over, best effort.
func (p *clientPolling) sendClosePacket(c *Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), c.limits.writeTimeout)
	defer cancel()
	_, _ = p.d.roundTrip(ctx, http.MethodPost, p.url, []byte{byte(eiopacket.Close)})
}

// upgrade probes a WebSocket and, if the server answers, moves the session
// onto it: polling is paused (the server ends the parked GET with noop,
// pending POSTs finish), "5" is sent, and queued data follows on the
// WebSocket. If anything fails the session stays on polling.
func (p *clientPolling) upgrade(c *Conn) {
	ctx, cancel := context.WithTimeout(p.ctx, p.d.opts.UpgradeTimeout)
	defer cancel()
	t, err := p.d.openWebSocket(ctx, c.id)
	if err != nil {
		return
	}
	ws := t.conn
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	ok := ws.WriteMessage(websocket.TextMessage, []byte("2probe")) == nil
	if ok {
		mt, data, err := ws.ReadMessage()
		ok = err == nil && mt == websocket.TextMessage && string(data) == "3probe"
	}
	if !stop() || !ok {
		_ = ws.Close()
		return
	}

	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		_ = ws.Close()
		return
	}
	p.pausing = true
	var writer chan struct{}
	if c.writing {
		writer = make(chan struct{})
		p.writerPaused = writer
	}
	c.mu.Unlock()
	<-p.pollDone
	if writer != nil {
		<-writer
	}

	_ = ws.SetWriteDeadline(time.Now().Add(c.limits.writeTimeout))
	err = ws.WriteMessage(websocket.TextMessage, []byte{byte(eiopacket.Upgrade)})
	c.mu.Lock()
	if err != nil || c.state == stateClosed {
		c.mu.Unlock()
		_ = ws.Close()
		c.closeNow(ReasonTransportError, err)
		return
	}
	c.transport, c.push = TransportWebSocket, t
	c.handOverWriterLocked()
	c.mu.Unlock()
	p.stop()
	go c.readLoop(t)
}

// MaxPayload returns the largest message, in bytes, that the server of a
// dialled session accepts (the handshake's maxPayload; over polling it
// bounds a whole request body). Zero if the server did not say, or on a
// server-side Conn.
func (c *Conn) MaxPayload() int64 {
	if !c.isClient {
		return 0
	}
	return c.limits.maxPayload
}
