package sioclient

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/internal/events"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Args holds the arguments of a received event or ack.
type Args = siopacket.Args

// EventHandler handles one event from the server. ack is nil unless the
// server asked for an acknowledgement.
type EventHandler func(s *Socket, args Args, ack Ack)

// Ack answers an event that asked for an acknowledgement, once.
type Ack func(args ...any) error

// Reason says why a socket disconnected: the reference client's strings.
type Reason string

// Disconnect reasons.
const (
	ReasonServerDisconnect Reason = "io server disconnect" // the server disconnected the socket; no reconnection
	ReasonClientDisconnect Reason = "io client disconnect" // Disconnect or Close was called; no reconnection
	ReasonPingTimeout      Reason = "ping timeout"         // the server stopped answering
	ReasonTransportClose   Reason = "transport close"      // the connection was closed or lost
	ReasonTransportError   Reason = "transport error"      // the connection failed
	ReasonParseError       Reason = "parse error"          // the server sent an undecodable packet
)

// ConnectError is the error of a connect_error event: the server's
// middleware refused the socket (Message and Data are the server's), or
// the connection could not be made.
type ConnectError struct {
	Message string
	Data    json.RawMessage // nil if the server sent none
}

// Error returns the refusal message.
func (e *ConnectError) Error() string { return "sioclient: connection refused: " + e.Message }

// SocketOptions configures one socket.
type SocketOptions struct {
	// Auth is the payload sent with each connection to the namespace.
	Auth any
	// AuthFunc, if set, is called before each (re)connection for the
	// payload, instead of Auth.
	AuthFunc func() any
}

// Socket is the client side of one namespace. Its methods may be called
// from any goroutine. Emits made while it is disconnected are buffered and
// sent when it connects, except volatile ones, which are dropped, and the
// Try ones (TryEmit, TryEmitWithAck), which fail with ErrNotConnected.
//
// An ack still awaited when the connection is lost fails with
// ErrDisconnected: the event may or may not have reached the server.
type Socket struct {
	m    *Manager
	nsp  string
	opts SocketOptions

	// mu guards the state, the handler tables, acks and the send buffer.
	mu        sync.Mutex
	active    bool // wants to be connected
	connected bool
	id        string
	// pid is the private session id a server with connection state
	// recovery gave, and lastOffset the offset of the last event received
	// since: a reconnection presents both to resume the session.
	pid        string
	lastOffset string
	recovered  bool
	// early holds events that arrived before the CONNECT they belong to:
	// the reference server sends a recovered session's missed events
	// first. They are handled, in order, once the CONNECT comes.
	early        []earlyEvent
	anyIn        []func(s *Socket, event string, args Args)
	onConnect    []func(*Socket)
	onConnectErr []func(*Socket, error)
	onDisconnect []func(*Socket, Reason)
	buffer       [][]engineio.Message

	handlers events.Handlers[EventHandler]
	acks     events.Acks[Args]
}

// ID returns the socket id the server assigned, "" while disconnected.
func (s *Socket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Recoverable reports whether a reconnection may recover the session:
// the server recovers sessions (it gave the socket a private session id)
// and the socket has received an event to resume from (its offset).
func (s *Socket) Recoverable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid != "" && s.lastOffset != ""
}

// Recovered reports whether the last connection resumed the previous
// session (connection state recovery on the server): the same id, the
// same rooms, and the events missed meanwhile delivered.
func (s *Socket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Connected reports whether the socket is connected to its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() string { return s.nsp }

// Manager returns the socket's manager.
func (s *Socket) Manager() *Manager { return s.m }

func (s *Socket) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// On registers h for event and returns a function that removes it.
func (s *Socket) On(event string, h EventHandler) (off func()) { return s.handlers.On(event, h, false) }

// Once registers h for the next occurrence of event.
func (s *Socket) Once(event string, h EventHandler) (off func()) {
	return s.handlers.On(event, h, true)
}

// Off removes every handler of event.
func (s *Socket) Off(event string) { s.handlers.Off(event) }

// OnAny registers h for every event, before its handlers.
func (s *Socket) OnAny(h func(s *Socket, event string, args Args)) {
	s.mu.Lock()
	s.anyIn = append(s.anyIn, h)
	s.mu.Unlock()
}

// OnConnect registers h for each successful (re)connection.
func (s *Socket) OnConnect(h func(*Socket)) {
	s.mu.Lock()
	s.onConnect = append(s.onConnect, h)
	s.mu.Unlock()
}

// OnConnectError registers h for a refused connection (a *ConnectError
// from the server's middleware) or a failed connection attempt.
func (s *Socket) OnConnectError(h func(*Socket, error)) {
	s.mu.Lock()
	s.onConnectErr = append(s.onConnectErr, h)
	s.mu.Unlock()
}

// OnDisconnect registers h for disconnections, with the reason.
func (s *Socket) OnDisconnect(h func(*Socket, Reason)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, h)
	s.mu.Unlock()
}

// Connect connects the socket, opening the manager's connection if
// needed. It returns at once; OnConnect and OnConnectError tell the outcome.
func (s *Socket) Connect() {
	s.mu.Lock()
	if s.active {
		s.mu.Unlock()
		return
	}
	s.active = true
	s.mu.Unlock()
	s.m.mu.Lock()
	open := s.m.state == stateOpen
	s.m.mu.Unlock()
	if open {
		s.sendConnect()
	} else {
		s.m.open()
	}
}

func (s *Socket) sendConnect() {
	auth := s.opts.Auth
	if s.opts.AuthFunc != nil {
		auth = s.opts.AuthFunc()
	}
	p := siopacket.Packet{Type: siopacket.Connect, Namespace: s.nsp}
	if auth != nil {
		data, err := json.Marshal(auth)
		if err != nil {
			s.onConnectError(fmt.Errorf("sioclient: auth payload: %w", err))
			return
		}
		p.Data = data
	}
	s.mu.Lock()
	pid, offset := s.pid, s.lastOffset
	s.mu.Unlock()
	if pid != "" {
		p.Data = withSession(p.Data, pid, offset)
	}
	msgs, err := s.m.encode(&p)
	if err != nil {
		s.onConnectError(fmt.Errorf("sioclient: auth payload: %w", err))
		return
	}
	s.m.send(msgs, false)
}

// onOpen is told that the manager's connection is up.
func (s *Socket) onOpen() {
	if s.isActive() {
		s.sendConnect()
	}
}

// Disconnect leaves the namespace (reason "io client disconnect"). The
// manager closes its connection once no socket uses it.
func (s *Socket) Disconnect() {
	s.mu.Lock()
	wasActive, wasConnected := s.active, s.connected
	s.active = false
	s.mu.Unlock()
	if wasConnected {
		if msgs, err := s.m.encode(&siopacket.Packet{Type: siopacket.Disconnect, Namespace: s.nsp}); err == nil {
			s.m.send(msgs, false)
		}
		s.onClose(ReasonClientDisconnect)
	}
	if wasActive {
		s.m.socketLeft()
	}
}

// Emit sends an event. Arguments are JSON-encoded; every []byte in them,
// at any depth, travels as a binary attachment.
func (s *Socket) Emit(event string, args ...any) error { return s.emit(event, args, nil, false) }

// EmitVolatile is Emit for data that may be dropped when the connection
// cannot take it right now, or the socket is disconnected.
func (s *Socket) EmitVolatile(event string, args ...any) error { return s.emit(event, args, nil, true) }

// TryEmit is Emit on the live connection only: when the socket is not
// connected it fails with ErrNotConnected instead of buffering the event
// for the next connection. An event with a message larger than the
// server's limit (its handshake's maxPayload), which would make the
// server close the connection, is refused with ErrTooLarge and not sent.
func (s *Socket) TryEmit(event string, args ...any) error {
	return s.emitMode(event, args, nil, sendNow)
}

// TryEmitWithAck is EmitWithAck on the live connection only: when the
// socket is not connected it fails at once with ErrNotConnected (the event
// was not sent), instead of buffering it. Like TryEmit, it refuses with
// ErrTooLarge an event the server would not accept. Once sent, it waits for the ack
// until ctx is done, or fails with ErrDisconnected if the connection is
// lost first.
func (s *Socket) TryEmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return events.Await(ctx, func(cb func(Args, error)) (uint64, error) {
		return s.emitAckMode(event, args, cb, sendNow)
	}, s.dropAck, ErrAckTimeout)
}

// EmitWithAck sends an event and waits for the server's ack until ctx is
// done. Do not call it from a handler: the ack would arrive on the
// goroutine the handler is blocking.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return events.Await(ctx, func(cb func(Args, error)) (uint64, error) {
		return s.emitAck(event, args, cb)
	}, s.dropAck, ErrAckTimeout)
}

// EmitWithAckFunc sends an event and calls cb with the ack, or with
// ErrAckTimeout after timeout.
func (s *Socket) EmitWithAckFunc(event string, timeout time.Duration, cb func(Args, error), args ...any) error {
	return events.Callback(timeout, cb, func(cb func(Args, error)) (uint64, error) {
		return s.emitAck(event, args, cb)
	}, s.dropAck, ErrAckTimeout)
}

func (s *Socket) emitAck(event string, args []any, cb func(Args, error)) (uint64, error) {
	return s.emitAckMode(event, args, cb, sendBuffered)
}

func (s *Socket) emitAckMode(event string, args []any, cb func(Args, error), mode sendMode) (uint64, error) {
	id, _ := s.acks.Add(cb) // the client's table never closes: acks wait across reconnections
	if err := s.emitMode(event, args, &id, mode); err != nil {
		s.acks.Drop(id)
		return 0, err
	}
	return id, nil
}

func (s *Socket) dropAck(id uint64) bool { return s.acks.Drop(id) }

func isReserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// sendMode says what an emit does when the socket is not connected.
type sendMode int

const (
	sendBuffered sendMode = iota // keep it for the next connection
	sendVolatile                 // drop it
	sendNow                      // fail with ErrNotConnected
)

func (s *Socket) emit(event string, args []any, ackID *uint64, volatile bool) error {
	mode := sendBuffered
	if volatile {
		mode = sendVolatile
	}
	return s.emitMode(event, args, ackID, mode)
}

func (s *Socket) emitMode(event string, args []any, ackID *uint64, mode sendMode) error {
	if isReserved(event) {
		return fmt.Errorf("%w: %q", ErrReserved, event)
	}
	// An event and its attachments fit here, on the stack, as the
	// connection copies what it queues; only a buffered event is copied
	// out.
	var frames [4]engineio.Message
	msgs, err := s.m.encodeEvent(frames[:0], s.nsp, event, args, ackID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.connected {
		if mode == sendBuffered {
			s.buffer = append(s.buffer, slices.Clone(msgs))
		}
		s.mu.Unlock()
		if mode == sendNow {
			return ErrNotConnected
		}
		return nil
	}
	s.mu.Unlock()
	if mode == sendNow {
		return s.m.sendChecked(msgs)
	}
	if s.m.send(msgs, mode == sendVolatile) {
		return nil
	}
	if mode == sendBuffered {
		// The connection went away under us: keep it for the next one.
		s.mu.Lock()
		s.buffer = append(s.buffer, slices.Clone(msgs))
		s.mu.Unlock()
	}
	return nil
}

// onPacket handles a packet for this namespace, on the read goroutine.
func (s *Socket) onPacket(p *siopacket.Packet) {
	switch p.Type {
	case siopacket.Connect:
		var body struct {
			SID string `json:"sid"`
			PID string `json:"pid"`
		}
		if json.Unmarshal(p.Data, &body) != nil || body.SID == "" {
			return
		}
		s.mu.Lock()
		if !s.active {
			s.mu.Unlock()
			return
		}
		s.id, s.connected = body.SID, true
		s.recovered = body.PID != "" && body.PID == s.pid
		if !s.recovered {
			s.lastOffset = ""
		}
		s.pid = body.PID
		buffered := s.buffer
		s.buffer = nil
		early := s.early
		s.early = nil
		hs := s.onConnect
		s.mu.Unlock()
		for _, e := range early {
			s.dispatch(e.event, e.args, e.ack)
		}
		for _, h := range hs {
			h(s)
		}
		for _, msgs := range buffered {
			s.m.send(msgs, false)
		}
	case siopacket.ConnectError:
		var body struct {
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		}
		if json.Unmarshal(p.Data, &body) != nil {
			_ = json.Unmarshal(p.Data, &body.Message) // the v4 protocol sent a bare string
		}
		s.mu.Lock()
		s.active, s.early = false, nil
		s.mu.Unlock()
		s.onConnectError(&ConnectError{Message: body.Message, Data: body.Data})
		s.m.socketLeft()
	case siopacket.Disconnect:
		s.mu.Lock()
		s.active = false
		s.mu.Unlock()
		s.onClose(ReasonServerDisconnect)
		s.m.socketLeft()
	case siopacket.Event, siopacket.BinaryEvent:
		s.onEvent(p)
	case siopacket.Ack, siopacket.BinaryAck:
		if cb := s.acks.Take(p.ID); cb != nil {
			args, err := siopacket.ParseAck(p)
			cb(args, err)
		}
	}
}

// earlyEvent is an event kept until its namespace's CONNECT arrives.
type earlyEvent struct {
	event string
	args  Args
	ack   Ack
}

func (s *Socket) onEvent(p *siopacket.Packet) {
	event, args, err := siopacket.ParseEvent(p)
	if err != nil {
		return
	}
	var ack Ack
	if p.HasID {
		ack = s.ackFunc(p.ID)
	}
	s.mu.Lock()
	if !s.connected {
		if s.active && len(s.early) < maxEarlyEvents {
			s.early = append(s.early, earlyEvent{event, args, ack})
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.dispatch(event, args, ack)
}

// dispatch hands an event to the handlers, noting its recovery offset.
func (s *Socket) dispatch(event string, args Args, ack Ack) {
	s.mu.Lock()
	if s.pid != "" {
		// A recovering server stamps what it records with its offset, as
		// the last argument.
		if n := args.Len(); n > 0 {
			if raw := args.Raw(n - 1); len(raw) > 0 && raw[0] == '"' {
				var offset string
				if json.Unmarshal(raw, &offset) == nil {
					s.lastOffset = offset
				}
			}
		}
	}
	anyIn := s.anyIn
	s.mu.Unlock()
	hs := s.handlers.Take(event)
	for _, h := range anyIn {
		h(s, event, args)
	}
	for _, e := range hs {
		e.H(s, args, ack)
	}
}

func (s *Socket) ackFunc(id uint64) Ack {
	var sent atomic.Bool
	return func(args ...any) error {
		if !sent.CompareAndSwap(false, true) {
			return ErrAcked
		}
		p, err := siopacket.NewAck(s.nsp, id, args)
		if err != nil {
			return err
		}
		msgs, err := s.m.encode(&p)
		if err != nil {
			return err
		}
		if !s.m.send(msgs, false) {
			return ErrDisconnected
		}
		return nil
	}
}

func (s *Socket) onConnectError(err error) {
	s.mu.Lock()
	hs := s.onConnectErr
	s.mu.Unlock()
	for _, h := range hs {
		h(s, err)
	}
}

// onClose reports a disconnection if the socket was connected. Pending
// acks fail; the socket stays active (and reconnects) unless it was the
// server's or the client's doing.
func (s *Socket) onClose(reason Reason) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected, s.id = false, ""
	hs := s.onDisconnect
	s.mu.Unlock()
	s.acks.Fail(ErrDisconnected, false)
	for _, h := range hs {
		h(s, reason)
	}
}

// maxEarlyEvents bounds the events kept until their CONNECT arrives.
const maxEarlyEvents = 10000

// withSession adds the session to resume (pid and offset, as
// socket.io-client sends them) to a CONNECT's auth payload, an object.
// A payload that is not an object is sent as it is.
func withSession(auth json.RawMessage, pid, offset string) json.RawMessage {
	fields := map[string]json.RawMessage{}
	if len(auth) > 0 && json.Unmarshal(auth, &fields) != nil {
		return auth
	}
	if fields == nil { // the payload was null
		fields = map[string]json.RawMessage{}
	}
	fields["pid"], _ = json.Marshal(pid)
	fields["offset"], _ = json.Marshal(offset)
	b, _ := json.Marshal(fields)
	return b
}

// eventScratch is what an event is encoded in before its frame is copied
// out at its size.
type eventScratch struct {
	data []byte
	atts [][]byte
}

var eventScratchPool = sync.Pool{New: func() any { return &eventScratch{data: make([]byte, 0, 512)} }}

// maxScratch bounds the buffer an eventScratch keeps for the next event.
const maxScratch = 64 << 10

// encodeEvent appends to msgs the messages of an EVENT (BINARY_EVENT if
// args hold []byte) for nsp, with the ack id if ackID is not nil. It is
// siopacket.NewEvent then encode, in one copy of the payload where those
// made two and four allocations more.
func encodeEvent(msgs []engineio.Message, nsp, event string, args []any, ackID *uint64) ([]engineio.Message, error) {
	if out, ok := encodePlainEvent(msgs, nsp, event, args, ackID); ok {
		return out, nil
	}
	sc := eventScratchPool.Get().(*eventScratch)
	defer eventScratchPool.Put(sc)
	data, atts, err := siopacket.AppendEventData(sc.data[:0], sc.atts[:0], event, args)
	if err != nil {
		return msgs, err
	}
	p := siopacket.Packet{Type: siopacket.Event, Namespace: nsp, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = siopacket.BinaryEvent
	}
	if ackID != nil {
		p.ID, p.HasID = *ackID, true
	}
	size := 24 + len(nsp) + len(data)
	msgs = append(msgs, engineio.Message{Data: siopacket.AppendText(make([]byte, 0, size), &p)})
	for _, a := range atts {
		msgs = append(msgs, engineio.Message{Data: a, Binary: true})
	}
	clear(atts) // the pool must not keep the caller's bytes alive
	if cap(data) <= maxScratch {
		sc.data = data[:0]
	}
	sc.atts = atts[:0]
	return msgs, nil
}

// encodePlainEvent is encodeEvent for the events typed calls make: a name
// that JSON needs no escapes for, and arguments that are all non-nil
// []byte or non-empty json.RawMessage. It writes the frame directly,
// without the reflection of siopacket's encoder, which was most of what an
// emit cost; it reports false, doing nothing, for any other event, or one
// whose frame would not be valid UTF-8 (which the general path repairs).
func encodePlainEvent(msgs []engineio.Message, nsp, event string, args []any, ackID *uint64) ([]engineio.Message, bool) {
	if !plainJSONString(event) {
		return msgs, false
	}
	binaries, size := 0, len(event)+4
	for _, a := range args {
		switch a := a.(type) {
		case []byte:
			if a == nil {
				return msgs, false
			}
			binaries++
			size += len(`,{"_placeholder":true,"num":}`) + 4
		case json.RawMessage:
			if len(a) == 0 {
				return msgs, false
			}
			size += 1 + len(a)
		default:
			return msgs, false
		}
	}
	// The header, as siopacket.AppendText writes it.
	frame := make([]byte, 0, 24+len(nsp)+size)
	if binaries > 0 {
		frame = append(frame, '0'+byte(siopacket.BinaryEvent))
		frame = strconv.AppendInt(frame, int64(binaries), 10)
		frame = append(frame, '-')
	} else {
		frame = append(frame, '0'+byte(siopacket.Event))
	}
	if nsp != "" && nsp != "/" {
		frame = append(frame, nsp...)
		frame = append(frame, ',')
	}
	if ackID != nil {
		frame = strconv.AppendUint(frame, *ackID, 10)
	}
	// The payload, as siopacket.AppendEventData writes it.
	frame = append(frame, `["`...)
	frame = append(frame, event...)
	frame = append(frame, '"')
	n := 0
	for _, a := range args {
		switch a := a.(type) {
		case []byte:
			frame = append(frame, `,{"_placeholder":true,"num":`...)
			frame = strconv.AppendInt(frame, int64(n), 10)
			frame = append(frame, '}')
			n++
		case json.RawMessage:
			frame = append(frame, ',')
			frame = append(frame, a...)
		}
	}
	frame = append(frame, ']')
	if !utf8.Valid(frame) {
		return msgs, false
	}
	msgs = append(msgs, engineio.Message{Data: frame})
	for _, a := range args {
		if b, ok := a.([]byte); ok {
			msgs = append(msgs, engineio.Message{Data: b, Binary: true})
		}
	}
	return msgs, true
}

// plainJSONString reports whether s is written in JSON as it is, between
// quotes: encoding/json escapes control characters, quotes, backslashes,
// <, > and &, and siopacket leaves non-ASCII strings to it.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// encode turns a packet into the Engine.IO messages that carry it.
func encode(p *siopacket.Packet) []engineio.Message {
	msgs := make([]engineio.Message, 1+len(p.Attachments))
	// Sized as the server sizes its frames: grown by appending from nil,
	// the frame was reallocated three or four times.
	size := 24 + len(p.Namespace) + len(p.Data)
	msgs[0] = engineio.Message{Data: siopacket.AppendText(make([]byte, 0, size), p)}
	for i, a := range p.Attachments {
		msgs[i+1] = engineio.Message{Data: a, Binary: true}
	}
	return msgs
}
