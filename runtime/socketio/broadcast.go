package socketio

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// BroadcastOperator selects sockets of a namespace and acts on them. It is
// an immutable value: each modifier returns a new operator, so one can be
// kept and reused from any goroutine.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  sioadapter.BroadcastFlags
}

// To adds rooms to reach.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = append(slices.Clip(b.rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except adds rooms whose sockets are skipped.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = append(slices.Clip(b.except), rooms...)
	return b
}

// Volatile drops the packet for clients that cannot take it right now.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	b.flags.Volatile = true
	return b
}

// Local restricts the operation to this node.
func (b BroadcastOperator) Local() BroadcastOperator {
	b.flags.Local = true
	return b
}

// Compress chooses whether the packet may be compressed (the default) or
// must be sent as is, where compression is on.
func (b BroadcastOperator) Compress(enabled bool) BroadcastOperator {
	b.flags.NoCompress = !enabled
	return b
}

// Timeout sets how long EmitWithAck waits when its context has no deadline.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator {
	b.flags.Timeout = d
	return b
}

func (b BroadcastOperator) options() sioadapter.BroadcastOptions {
	return sioadapter.BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets. The packet is encoded once;
// every recipient is sent the same bytes.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	if isReserved(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	p, err := eventPacket(b.nsp.name, event, args)
	if err != nil {
		return err
	}
	return b.broadcastTo(&p)
}

func (b BroadcastOperator) broadcastTo(p *siopacket.Packet) error {
	if b.nsp.isParent() {
		for _, child := range b.nsp.childList() {
			q := *p
			q.Namespace = child.name
			if err := child.broadcast(&q, b.options()); err != nil {
				return err
			}
		}
		return nil
	}
	return b.nsp.broadcast(p, b.options())
}

// broadcast hands a packet to the adapter, recording it first for
// connection state recovery when that is on.
func (n *Namespace) broadcast(p *siopacket.Packet, opts sioadapter.BroadcastOptions) error {
	if n.server.opts.ConnectionStateRecovery != nil && sioadapter.Recordable(p, opts) {
		if store, ok := n.adapter.(sioadapter.SessionStore); ok {
			if err := store.Record(p, opts); err != nil {
				return err
			}
		}
	}
	return n.adapter.Broadcast(p, opts)
}

// EmitWithAck sends an event to the selected sockets and gathers one ack
// from each, until every client has answered or ctx is done (or, without a
// deadline on ctx, the operator's Timeout passes). If some did not answer,
// the error is a *BroadcastAckError holding the responses that came.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if isReserved(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	if _, has := ctx.Deadline(); !has && b.flags.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.flags.Timeout)
		defer cancel()
	}
	p, err := eventPacket(b.nsp.name, event, args)
	if err != nil {
		return nil, err
	}
	p.ID, p.HasID = b.nsp.newAckID(), true

	servers := 1
	if !b.flags.Local {
		if n, err := b.nsp.adapter.ServerCount(ctx); err == nil && n > 1 {
			servers = n
		}
	}
	var (
		mu        sync.Mutex
		responses []Args
		expected  int // clients reached, summed over the nodes that reported
		reported  int // nodes that reported
		done      = make(chan struct{})
		closed    bool
	)
	check := func() {
		if !closed && reported >= servers && len(responses) >= expected {
			closed = true
			close(done)
		}
	}
	onSent := func(n int) {
		mu.Lock()
		expected += n
		reported++
		check()
		mu.Unlock()
	}
	onAck := func(a Args) {
		mu.Lock()
		responses = append(responses, a)
		check()
		mu.Unlock()
	}
	if err := b.nsp.adapter.BroadcastWithAck(&p, b.options(), onSent, onAck); err != nil {
		return nil, err
	}
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(responses), nil
	case <-ctx.Done():
		b.forgetAck(p.ID)
		mu.Lock()
		defer mu.Unlock()
		closed = true
		return nil, &BroadcastAckError{Expected: max(expected, len(responses)), Responses: slices.Clone(responses)}
	}
}

// forgetAck drops a broadcast's pending ack callbacks from local sockets.
func (b BroadcastOperator) forgetAck(id uint64) {
	for _, s := range b.nsp.Sockets() {
		s.dropAck(id)
	}
}

// FetchSockets describes the selected sockets, on every node.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return b.nsp.adapter.FetchSockets(ctx, b.options())
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(rooms ...string) { b.nsp.adapter.AddSockets(b.options(), rooms) }

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(rooms ...string) {
	b.nsp.adapter.DelSockets(b.options(), rooms)
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (b BroadcastOperator) DisconnectSockets(close bool) {
	b.nsp.adapter.DisconnectSockets(b.options(), close)
}
