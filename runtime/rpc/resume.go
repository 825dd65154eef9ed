package rpc

import (
	"time"

	"github.com/sio-dev/sio/runtime/socketio"
)

// Resuming per-call streams after a lost connection (PROTOCOL.md,
// "Resuming per-call streams"). With connection state recovery on, a
// socket that drops (not one that leaves) keeps its streams' handlers
// running: what they send is logged, not written, and their contexts go
// on. When the session is recovered on this node, the streams serve the
// recovered socket; its client says, for each stream it still has, how
// many frames it received and how much credit it gave back, and each side
// writes again what the other did not get. A session not recovered within
// MaxDisconnectionDuration ends the streams, as does a client that does
// not claim them.

// CallResumeEvent carries, with an ack, the per-call streams that a client
// whose session was recovered still has open: [{id, received, granted}].
// The ack answers each the same way, or with a status for a stream the
// server no longer has.
const CallResumeEvent = "sio:call:resume"

// CallOffsetEvent is broadcast, without arguments, to the own room of a
// socket with per-call streams open, and of one that has just subscribed
// to a room stream, when the server recovers sessions: as a broadcast it
// carries an offset (its last argument), which the client presents when
// it reconnects. Socket.IO recovers a session only from an offset it
// still holds, and a client that only has streams, or whose room has been
// quiet since it subscribed, would otherwise have none.
const CallOffsetEvent = "sio:call:offset"

// resumeState is one stream's side of a resumption: the frames its side
// received (messages, and the half-close) and the credit it gave back in
// all; Status instead, in an answer, for a stream that is gone.
type resumeState struct {
	ID       string      `json:"id"`
	Received int64       `json:"received"`
	Granted  int64       `json:"granted"`
	Status   *wireStatus `json:"status,omitempty"`
}

// claimWait is how long a recovered socket's parked streams wait for the
// client to claim them.
const claimWait = 10 * time.Second

// parkKey names the session a parked socket's calls wait for.
type parkKey struct{ nsp, sid string }

// parkedOn are the disconnect reasons after which streams wait for the
// session: the connection was lost. (A server going away cannot serve
// them again, and a goodbye wants them gone.)
func parkedOn(reason socketio.DisconnectReason) bool {
	switch reason {
	case socketio.ReasonTransportError, socketio.ReasonTransportClose, socketio.ReasonPingTimeout, socketio.ReasonForcedClose:
		return true
	}
	return false
}

// park keeps calls' per-call streams for the recovery of s's session,
// reporting false (the streams are to end) if there is none to wait for.
func (st *serverState) park(s *socketio.Socket, calls *socketCalls, reason socketio.DisconnectReason) bool {
	recovery := s.Namespace().Server().ConnectionStateRecovery()
	if recovery == nil || !parkedOn(reason) || st.calls.Load()&draining != 0 {
		return false // a draining server ends them: it cannot wait for the client
	}
	calls.mu.Lock()
	n := 0
	for _, c := range calls.byID {
		if c.stream != nil && c.stream.pause() {
			n++
		}
	}
	for _, ss := range calls.ended {
		ss.pause()
		n++
	}
	calls.mu.Unlock()
	if n == 0 {
		return false
	}
	key := parkKey{s.Namespace().Name(), s.ID()}
	st.parked.Store(key, calls)
	calls.setTimer(recovery.MaxDisconnectionDuration, func() {
		if st.parked.CompareAndDelete(key, calls) {
			calls.endStreams()
		}
	})
	return true
}

// pause stops writing the stream: the connection is gone. It reports
// whether the stream can be resumed.
func (st *serverStream) pause() bool {
	st.recv.hold()
	return st.send.pause()
}

// setTimer replaces the calls' timer with one running f after d.
func (sc *socketCalls) setTimer(d time.Duration, f func()) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.timer != nil {
		sc.timer.Stop()
	}
	sc.timer = time.AfterFunc(d, f)
}

// onConnect gives a recovered socket the streams its session left parked.
func (ns *nspState) onConnect(s *socketio.Socket) {
	if !s.Recovered() {
		return
	}
	st := ns.server
	v, ok := st.parked.LoadAndDelete(parkKey{s.Namespace().Name(), s.ID()})
	if !ok {
		return
	}
	calls := v.(*socketCalls)
	cancel := calls.attach(s)
	calls.mu.Lock()
	calls.closed = false
	calls.mu.Unlock()
	st.sockets.Store(s, calls)
	st.watch(s, calls, cancel)
	// Until the client claims them; one that does not wants none.
	calls.setTimer(claimWait, func() { calls.resume(nil) })
	// A fresh offset for the next loss, and the next ones while the
	// streams last.
	if recovery := s.Namespace().Server().ConnectionStateRecovery(); recovery != nil {
		calls.markOffset(s, recovery.MaxDisconnectionDuration)
	}
}

// onResume resumes the streams the client claims, ends those it does not.
func (ns *nspState) onResume(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
	var claims []resumeState
	if args.Decode(0, &claims) != nil {
		if ack != nil {
			_ = ack(statusOf(Errorf(CodeInvalidArgument, "%s takes a list of {id, received, granted}", CallResumeEvent)))
		}
		return
	}
	v, ok := ns.server.sockets.Load(s)
	if !ok {
		v = &socketCalls{}
	}
	answers, resume := v.(*socketCalls).resume(claims)
	if ack != nil {
		_ = ack(answers)
	}
	resume()
}

// resume answers claims, and returns what then writes the streams again.
// The streams that are not claimed end: the client gave up on them.
func (sc *socketCalls) resume(claims []resumeState) (answers []resumeState, resume func()) {
	sc.mu.Lock()
	if sc.timer != nil {
		sc.timer.Stop()
		sc.timer = nil
	}
	claimed := make(map[string]resumeState, len(claims))
	for _, c := range claims {
		claimed[c.ID] = c
	}
	type pending struct {
		st    *serverStream
		claim resumeState
	}
	var todo []pending
	var drop []*call
	for id, c := range sc.byID {
		if c.stream == nil || !c.stream.send.isPaused() {
			continue
		}
		if claim, ok := claimed[id]; ok {
			todo = append(todo, pending{c.stream, claim})
			delete(claimed, id)
		} else {
			drop = append(drop, c)
		}
	}
	for id, ss := range sc.ended {
		if claim, ok := claimed[id]; ok {
			todo = append(todo, pending{ss, claim})
			delete(claimed, id)
		} else if ss.send.isPaused() {
			delete(sc.ended, id)
		}
	}
	sc.mu.Unlock()
	for _, c := range drop {
		c.stream.send.abandon() // its end is written, not kept: the client has forgotten it
		c.ctx.markCanceled()
		c.ctx.end()
	}
	answers = make([]resumeState, 0, len(claims))
	for _, p := range todo {
		received, granted := p.st.recv.counts()
		answers = append(answers, resumeState{ID: p.claim.ID, Received: received, Granted: granted})
	}
	for id := range claimed {
		gone := statusOf(Errorf(CodeUnavailable, "the stream %s is no longer open on this server", id))
		answers = append(answers, resumeState{ID: id, Status: &gone})
	}
	return answers, func() {
		for _, p := range todo {
			if !p.st.send.resume(p.claim.Received, p.claim.Granted, p.st.write) {
				p.st.fail(Errorf(CodeDataLoss, "the client claims fewer messages than it acknowledged"))
				continue
			}
			if grant := p.st.recv.release(); grant > 0 {
				_ = p.st.c.socket().Emit(CallCreditEvent, p.st.c.meta.id, grant)
			}
		}
	}
}

// keepEnded keeps st until the caller acknowledges its end, if it can be
// resumed; it reports whether it can.
func (sc *socketCalls) keepEnded(st *serverStream) bool {
	if !st.send.resumable() {
		return false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.ended) >= maxEndedKept {
		// A caller that never acknowledges: forget the oldest-looking.
		for id := range sc.ended {
			delete(sc.ended, id)
			break
		}
	}
	if sc.ended == nil {
		sc.ended = map[string]*serverStream{}
	}
	sc.ended[st.c.meta.id] = st
	return true
}

// maxEndedKept bounds the unacknowledged ends a socket keeps.
const maxEndedKept = 1024

// forgetEnded drops st's end: the caller has it.
func (sc *socketCalls) forgetEnded(st *serverStream) {
	sc.mu.Lock()
	if sc.ended[st.c.meta.id] == st {
		delete(sc.ended, st.c.meta.id)
	}
	sc.mu.Unlock()
}

// markOffset gives s a fresh recovery offset (CallOffsetEvent) if its last
// one is older than a quarter of maxAge, and keeps doing so while s has
// per-call streams open.
func (sc *socketCalls) markOffset(s *socketio.Socket, maxAge time.Duration) {
	every := maxAge / 4
	sc.mu.Lock()
	if time.Since(sc.markedAt) < every || sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.markedAt = time.Now()
	if sc.markTimer == nil {
		var tick func()
		tick = func() {
			sc.mu.Lock()
			open := false
			for _, c := range sc.byID {
				open = open || c.stream != nil
			}
			if !open || sc.closed {
				sc.markTimer = nil
				sc.mu.Unlock()
				return
			}
			sc.markedAt = time.Now()
			sc.markTimer = time.AfterFunc(every, tick)
			s := sc.socket.Load()
			sc.mu.Unlock()
			giveOffset(s)
		}
		sc.markTimer = time.AfterFunc(every, tick)
	}
	sc.mu.Unlock()
	giveOffset(s)
}

// giveOffset broadcasts CallOffsetEvent to s's own room: as a recorded
// broadcast it reaches s with a fresh recovery offset.
func giveOffset(s *socketio.Socket) { _ = s.Namespace().To(s.ID()).Emit(CallOffsetEvent) }
