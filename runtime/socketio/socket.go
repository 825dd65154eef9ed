package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/internal/events"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// EventHandler handles one event. ack is nil unless the client asked for
// an acknowledgement; call it (once) to answer.
type EventHandler func(s *Socket, args Args, ack Ack)

// Ack answers an event that asked for an acknowledgement. A second call
// returns ErrAcked.
type Ack func(args ...any) error

// AnyHandler sees every event, with its name, before (incoming) or as
// (outgoing) it is handled or sent.
type AnyHandler func(s *Socket, event string, args Args)

// UnhandledHandler sees events that have no handler, with their ack (nil
// if none was asked for), so that a caller need not wait for an answer
// that will never come.
type UnhandledHandler func(s *Socket, event string, args Args, ack Ack)

// PacketMiddleware runs for every incoming event before its handlers. An
// error stops the event and is passed to the socket's error handlers.
type PacketMiddleware func(s *Socket, event string, args Args) error

// Socket is one client's membership of one namespace.
//
// Event handlers of a connection run one at a time on its read goroutine,
// in arrival order; a handler that blocks stalls every namespace of that
// connection, so hand long work to another goroutine. Emitting methods may
// be called from any goroutine and never block on the network.
type Socket struct {
	id        string
	pid       string // private session id, with connection state recovery
	nsp       *Namespace
	client    *client
	handshake Handshake
	// lastEvent is the name of the last event received, handed back by
	// the parser when the next has the same name. Read loop only.
	lastEvent string
	// recovered is set while connecting, before anyone else sees the
	// socket. (The flags sit together: every idle connection holds a
	// Socket, and padding after each would take it a size class up.)
	recovered bool

	// mu guards the handler tables, the ack table and the socket state.
	mu        sync.Mutex
	connected bool
	// leftDone is set once onClose has run to its end; gone, made by
	// waitLeft, is closed then.
	leftDone    bool
	hooks       *socketHooks    // nil until a hook is registered
	ctx         context.Context // made by the first Context call
	endCtx      context.CancelCauseFunc
	closeReason DisconnectReason // once not connected
	gone        chan struct{}

	handlers events.Handlers[EventHandler]
	acks     events.Acks[Args]
	// hold keeps what is sent to the socket while it is being connected;
	// nil before and once it has let everything through.
	hold atomic.Pointer[holdQueue]

	dataMu sync.Mutex
	data   any

	// joinMu orders joins against the socket leaving: once left is set, no
	// join can add the socket to a room again (and so outlive it in the
	// adapter).
	joinMu sync.Mutex
	left   bool
	// live keeps the session while the socket is connected (set under
	// joinMu once the socket is connected), if the adapter can.
	live sioadapter.LiveSessionStore
}

// socketHooks are a socket's handler lists other than its event handlers,
// made when the first is registered: most sockets have none, and every
// idle connection would hold seven empty slices otherwise. Lists are only
// appended to, under the socket's mu; readers copy them under it.
type socketHooks struct {
	anyIn, anyOut                 []AnyHandler
	middleware                    []PacketMiddleware
	onDisconnect, onDisconnecting []func(*Socket, DisconnectReason)
	onError                       []func(*Socket, error)
	unhandled                     []UnhandledHandler
}

// hooksLocked returns the socket's hooks, made if need be.
func (s *Socket) hooksLocked() *socketHooks {
	if s.hooks == nil {
		s.hooks = &socketHooks{}
	}
	return s.hooks
}

// noHooks stands for the hooks of a socket that has none; never changed.
var noHooks socketHooks

// hooksOrNoneLocked returns the socket's hooks, to read only.
func (s *Socket) hooksOrNoneLocked() *socketHooks {
	if s.hooks == nil {
		return &noHooks
	}
	return s.hooks
}

// ID returns the socket id: unguessable, distinct from the Engine.IO
// session id, and the name of the socket's own room.
func (s *Socket) ID() string { return s.id }

// Recovered reports whether the socket resumed a previous session (same
// id, rooms and data; missed broadcasts replayed).
func (s *Socket) Recovered() bool { return s.recovered }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns the connection's handshake details.
func (s *Socket) Handshake() Handshake { return s.handshake }

// Conn returns the Engine.IO session under the socket.
func (s *Socket) Conn() *engineio.Conn { return s.client.conn }

// Connected reports whether the socket is still in its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Context returns a context that ends when the socket leaves its
// namespace, with a *DisconnectError naming the reason as its cause: for
// work done on behalf of the socket that is pointless once it has gone.
// It is made on first use, so sockets that never ask pay nothing.
func (s *Socket) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.endCtx = context.WithCancelCause(context.Background()) //sio:root-context
		if !s.connected && s.closeReason != "" {
			s.endCtx(&DisconnectError{Reason: s.closeReason})
		}
	}
	return s.ctx
}

// Data returns the value stored with SetData, nil if none.
func (s *Socket) Data() any {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	return s.data
}

// SetData stores application state with the socket. FetchSockets returns
// it, so with a multi-node adapter it must be JSON-serialisable.
func (s *Socket) SetData(v any) {
	s.dataMu.Lock()
	s.data = v
	s.dataMu.Unlock()
}

// On registers h for event. It returns a function that removes it.
func (s *Socket) On(event string, h EventHandler) (off func()) { return s.handlers.On(event, h, false) }

// Once registers h for the next occurrence of event only.
func (s *Socket) Once(event string, h EventHandler) (off func()) {
	return s.handlers.On(event, h, true)
}

// Off removes every handler of event.
func (s *Socket) Off(event string) { s.handlers.Off(event) }

// OnAny registers h for every incoming event, called before its handlers.
func (s *Socket) OnAny(h AnyHandler) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.anyIn = append(hk.anyIn, h)
	s.mu.Unlock()
}

// OnUnhandled registers h for events that have no handler.
func (s *Socket) OnUnhandled(h UnhandledHandler) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.unhandled = append(hk.unhandled, h)
	s.mu.Unlock()
}

// OnAnyOutgoing registers h for every event this socket emits.
func (s *Socket) OnAnyOutgoing(h AnyHandler) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.anyOut = append(hk.anyOut, h)
	s.mu.Unlock()
}

// Use adds packet middleware, run in order for every incoming event.
func (s *Socket) Use(m PacketMiddleware) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.middleware = append(hk.middleware, m)
	s.mu.Unlock()
}

// OnError registers h for errors returned by packet middleware.
func (s *Socket) OnError(h func(*Socket, error)) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.onError = append(hk.onError, h)
	s.mu.Unlock()
}

// OnDisconnecting registers h to run when the socket is leaving, while its
// rooms are still visible.
func (s *Socket) OnDisconnecting(h func(*Socket, DisconnectReason)) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.onDisconnecting = append(hk.onDisconnecting, h)
	s.mu.Unlock()
}

// OnDisconnect registers h to run once the socket has left.
func (s *Socket) OnDisconnect(h func(*Socket, DisconnectReason)) {
	s.mu.Lock()
	hk := s.hooksLocked()
	hk.onDisconnect = append(hk.onDisconnect, h)
	s.mu.Unlock()
}

// Emit sends an event to this client. Arguments are encoded as JSON, with
// every []byte, at any depth, sent as a binary attachment.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, nil, false)
}

// EmitVolatile is Emit for data that may be dropped when the client cannot
// take it right now.
func (s *Socket) EmitVolatile(event string, args ...any) error {
	return s.emit(event, args, nil, true)
}

// EmitWithAck sends an event and waits for the client's ack, until ctx is
// done (ErrAckTimeout wrapped with ctx's error) or the socket disconnects
// (ErrDisconnected).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return events.Await(ctx, func(cb func(Args, error)) (uint64, error) {
		return s.emitAck(event, args, cb)
	}, s.dropAck, ErrAckTimeout)
}

// EmitWithAckFunc sends an event and calls cb with the client's ack, or
// with ErrAckTimeout if none arrives within timeout, or ErrDisconnected.
// cb runs on its own goroutine or the connection's read goroutine.
func (s *Socket) EmitWithAckFunc(event string, timeout time.Duration, cb func(Args, error), args ...any) error {
	return events.Callback(timeout, cb, func(cb func(Args, error)) (uint64, error) {
		return s.emitAck(event, args, cb)
	}, s.dropAck, ErrAckTimeout)
}

// emitAck sends an event with a fresh ack id, registering cb for the ack.
func (s *Socket) emitAck(event string, args []any, cb func(Args, error)) (uint64, error) {
	id, ok := s.acks.Add(cb)
	if !ok {
		return 0, ErrDisconnected
	}
	if err := s.emit(event, args, &id, false); err != nil {
		s.acks.Drop(id)
		return 0, err
	}
	return id, nil
}

func (s *Socket) emit(event string, args []any, ackID *uint64, volatile bool) error {
	if isReserved(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	p, err := eventPacket(s.nsp.name, event, args)
	if err != nil {
		return err
	}
	if ackID != nil {
		p.ID, p.HasID = *ackID, true
	}
	s.mu.Lock()
	connected, out := s.connected, s.hooksOrNoneLocked().anyOut
	s.mu.Unlock()
	if !connected {
		return ErrDisconnected
	}
	if len(out) > 0 {
		_, a, _ := siopacket.ParseEvent(&p)
		for _, h := range out {
			h(s, event, a)
		}
	}
	var msgs []engineio.Message
	if s.client.srv.opts.Parser == nil { // the default's path, written out
		msgs = encode(&p, false)
	} else if msgs, err = s.client.srv.encodeCustom(&p, false); err != nil {
		return err
	}
	if !s.sendEncoded(msgs, volatile) && !volatile {
		return ErrDisconnected
	}
	return nil
}

// sendFrames queues a packet's text frame and attachments on the
// connection.
func (s *Socket) sendFrames(text []byte, attachments [][]byte) bool {
	if q := s.hold.Load(); q != nil && q.active.Load() {
		return s.sendEncoded(messages(text, attachments, false), false)
	}
	switch len(attachments) {
	case 0:
		return s.client.conn.Send(engineio.Message{Data: text}) == nil
	case 1: // a typed RPC reply
		return s.client.conn.Send(engineio.Message{Data: text}, engineio.Message{Data: attachments[0], Binary: true}) == nil
	}
	return s.sendEncoded(messages(text, attachments, false), false)
}

// sendEncoded queues an encoded packet on the connection.
func (s *Socket) sendEncoded(msgs []engineio.Message, volatile bool) bool {
	if q := s.hold.Load(); q != nil && q.intercept(msgs, s.client.srv.opts.Parser) {
		return true
	}
	if volatile {
		return s.client.conn.SendVolatile(msgs...)
	}
	return s.client.conn.Send(msgs...) == nil
}

// expectAck registers cb for the ack with id (used by broadcasts, whose
// ids come from the namespace).
func (s *Socket) expectAck(id uint64, cb func(Args, error)) { s.acks.Set(id, cb) }

// dropAck forgets a pending ack, reporting whether it was still pending.
func (s *Socket) dropAck(id uint64) bool { return s.acks.Drop(id) }

// Join adds the socket to rooms. It does nothing once the socket has left.
func (s *Socket) Join(rooms ...string) { s.join(rooms, true) }

// join adds the socket to rooms, unless it has left, saving its live
// session if save. It reports whether the session is still to be saved
// (a bulk join saves many at once afterwards: saveLiveSessions).
func (s *Socket) join(rooms []string, save bool) (unsaved bool) {
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	if s.left {
		return false
	}
	s.nsp.adapter.AddAll(s.id, rooms)
	if save {
		s.keepLiveLocked()
		return false
	}
	return s.live != nil
}

// saveLive saves the socket's live session as it is now.
func (s *Socket) saveLive() {
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	if !s.left {
		s.keepLiveLocked()
	}
}

// saveLiveSessions saves the live sessions of sockets a bulk join changed,
// several at a time: one after another, a join of thousands of sockets
// would wait for as many round trips to the store.
func saveLiveSessions(sockets []*Socket) {
	const parallel = 16
	next := make(chan *Socket)
	var wg sync.WaitGroup
	for range min(parallel, len(sockets)) {
		wg.Go(func() {
			for s := range next {
				s.saveLive()
			}
		})
	}
	for _, s := range sockets {
		next <- s
	}
	close(next)
	wg.Wait()
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.leave([]string{room}, true) }

// leave removes the socket from rooms and, if save, saves its live
// session before returning; otherwise it reports whether the session
// needs saving (saveLiveSessions does it for many at once).
func (s *Socket) leave(rooms []string, save bool) (unsaved bool) {
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	for _, r := range rooms {
		s.nsp.adapter.Del(s.id, r)
	}
	if s.left {
		return false
	}
	if save {
		s.keepLiveLocked()
		return false
	}
	return s.live != nil
}

// keepLive starts keeping the session of a socket about to be connected
// in store, if it can.
func (s *Socket) keepLive() {
	live, ok := s.nsp.adapter.(sioadapter.LiveSessionStore)
	if !ok || s.pid == "" {
		return
	}
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	s.live = live
	s.keepLiveLocked()
}

// keepLiveLocked saves the session in the live store, if there is one.
// joinMu is held, so that saves are in the order of the changes.
func (s *Socket) keepLiveLocked() {
	if s.live != nil {
		s.live.KeepLiveSession(s.session())
	}
}

// session is what recovery keeps of the socket.
func (s *Socket) session() sioadapter.Session {
	return sioadapter.Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()}
}

// Rooms returns the socket's rooms, its own id room included.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// To selects rooms to broadcast to, excluding this socket.
func (s *Socket) To(rooms ...string) BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except selects every socket of the namespace but those in rooms and
// this one.
func (s *Socket) Except(rooms ...string) BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast selects every socket of the namespace but this one.
func (s *Socket) Broadcast() BroadcastOperator {
	return BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Disconnect removes the socket from its namespace, telling the client.
// With close, the whole connection is closed, and with it every namespace
// the client had joined.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.disconnectAll()
		return
	}
	if !s.Connected() {
		return
	}
	_ = s.client.conn.Send(s.client.srv.packetMessages(&siopacket.Packet{Type: siopacket.Disconnect, Namespace: s.nsp.name})...)
	s.onClose(ReasonServerNamespaceDisconnect)
}

// onClose runs the socket's leaving: disconnecting handlers (rooms still
// visible), removal from rooms and namespace, pending acks failed, then
// disconnect handlers. Only the first call does anything.
func (s *Socket) onClose(reason DisconnectReason) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	s.closeReason = reason
	disconnecting, endCtx := s.hooksOrNoneLocked().onDisconnecting, s.endCtx
	s.mu.Unlock()
	defer s.markLeft() // even if a handler panics: waitLeft must not hang
	s.nsp.server.counters.disconnectedWith(reason)
	if endCtx != nil {
		endCtx(&DisconnectError{Reason: reason})
	}
	for _, h := range disconnecting {
		h(s, reason)
	}
	// No join or leave saves the live session once left is set: what is
	// persisted here is the last word.
	s.joinMu.Lock()
	s.left = true
	live := s.live
	s.joinMu.Unlock()
	if store, ok := s.nsp.adapter.(sioadapter.SessionStore); ok && s.pid != "" && slices.Contains(recoverable, reason) {
		store.PersistSession(s.session())
	} else if live != nil {
		live.DropLiveSession(s.pid)
	}
	s.nsp.adapter.DelAll(s.id)
	s.nsp.remove(s)
	s.client.remove(s)
	s.acks.Fail(ErrDisconnected, true)
	s.mu.Lock()
	disconnect := s.hooksOrNoneLocked().onDisconnect
	s.mu.Unlock()
	for _, h := range disconnect {
		h(s, reason)
	}
}

// markLeft records that onClose has finished.
func (s *Socket) markLeft() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leftDone = true
	if s.gone != nil {
		close(s.gone)
	}
}

// waitLeft waits until the socket's onClose, begun by any goroutine, has
// finished: its session persisted and its disconnect handlers run.
func (s *Socket) waitLeft() {
	s.mu.Lock()
	if s.leftDone {
		s.mu.Unlock()
		return
	}
	if s.gone == nil {
		s.gone = make(chan struct{})
	}
	gone := s.gone
	s.mu.Unlock()
	<-gone
}

// onPacket handles a packet for this socket, on the read goroutine.
func (s *Socket) onPacket(p *siopacket.Packet) {
	switch p.Type {
	case siopacket.Event, siopacket.BinaryEvent:
		s.onEvent(p)
	case siopacket.Ack, siopacket.BinaryAck:
		s.onAck(p)
	case siopacket.Disconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

func (s *Socket) onEvent(p *siopacket.Packet) {
	event, args, err := siopacket.ParseEventLike(p, s.lastEvent)
	if err != nil {
		s.client.protocolError(err)
		return
	}
	s.lastEvent = event

	var ack Ack
	if p.HasID {
		ack = s.ackFunc(p.ID)
	}
	s.mu.Lock()
	hooks := s.hooksOrNoneLocked()
	anyIn, mws, unhandled := hooks.anyIn, hooks.middleware, hooks.unhandled
	s.mu.Unlock()
	hs := s.handlers.Take(event)

	for _, m := range mws {
		if err := m(s, event, args); err != nil {
			s.mu.Lock()
			onErr := s.hooksOrNoneLocked().onError
			s.mu.Unlock()
			for _, h := range onErr {
				h(s, err)
			}
			return
		}
	}
	for _, h := range anyIn {
		s.guard("any handler", func() { h(s, event, args) })
	}
	for _, e := range hs {
		s.guard("event handler", func() { e.H(s, args, ack) })
	}
	if h := s.nsp.handler(event); h != nil {
		s.guard("event handler", func() { h(s, args, ack) })
		return
	}
	if len(hs) == 0 {
		unhandled = append(unhandled[:len(unhandled):len(unhandled)], s.nsp.unhandledHandlers()...)
		for _, h := range unhandled {
			s.guard("unhandled-event handler", func() { h(s, event, args, ack) })
		}
	}
}

// guard runs f, turning a panic into a log line instead of a dead
// connection for every other client of the process.
func (s *Socket) guard(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.nsp.server.opts.Logger.Error("socketio: "+what+" panicked", "nsp", s.nsp.name, "sid", s.id, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// ackFunc returns the Ack that answers the client's packet id.
func (s *Socket) ackFunc(id uint64) Ack {
	var sent atomic.Bool
	return func(args ...any) error {
		if !sent.CompareAndSwap(false, true) {
			return ErrAcked
		}
		if s.client.srv.opts.Parser != nil {
			return s.sendAck(id, args)
		}
		text, atts, err := siopacket.EncodeAck(s.nsp.name, id, args)
		if err != nil {
			return err
		}
		if !s.Connected() || !s.sendFrames(text, atts) {
			return ErrDisconnected
		}
		return nil
	}
}

// sendAck answers the client's packet id in a custom format.
func (s *Socket) sendAck(id uint64, args []any) error {
	p, err := siopacket.NewAck(s.nsp.name, id, args)
	if err != nil {
		return err
	}
	msgs, err := s.client.srv.encodePacket(&p, false)
	if err != nil {
		return err
	}
	if !s.Connected() || !s.sendEncoded(msgs, false) {
		return ErrDisconnected
	}
	return nil
}

func (s *Socket) onAck(p *siopacket.Packet) {
	if !p.HasID {
		return
	}
	cb := s.acks.Take(p.ID)
	if cb == nil {
		return // late or unknown ack
	}
	args, err := siopacket.ParseAck(p)
	cb(args, err)
}

func (s *Socket) info() SocketInfo {
	return SocketInfo{ID: s.id, Handshake: s.handshake, Rooms: s.Rooms(), Data: s.Data()}
}

// newSocketID returns an unguessable id (the reference uses 20 characters
// of base64url).
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
