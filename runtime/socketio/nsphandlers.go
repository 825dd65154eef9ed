package socketio

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
)

// nspHandlers are the event handlers installed once on a namespace for
// all its sockets. Reads, one per incoming event, take no lock: writers
// replace the whole table.
type nspHandlers struct {
	mu        sync.Mutex // serialises writers
	events    atomic.Pointer[map[string]EventHandler]
	unhandled atomic.Pointer[[]UnhandledHandler]
}

// Handle serves event for every socket of the namespace, and of the
// namespaces a dynamic namespace creates, without a handler installed per
// socket: the way to serve an event that every socket answers alike. It
// runs after the socket's own handlers for the event (Socket.On), on the
// connection's read goroutine. Only one handler per event may be installed
// on a namespace: a second is an error naming the event. remove uninstalls
// h.
func (n *Namespace) Handle(event string, h EventHandler) (remove func(), err error) {
	t := &n.handlers
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.events.Load()
	if old != nil && (*old)[event] != nil {
		return nil, fmt.Errorf("socketio: event %q is already handled on namespace %s", event, n.name)
	}
	next := map[string]EventHandler{}
	if old != nil {
		next = maps.Clone(*old)
	}
	next[event] = h
	t.events.Store(&next)
	var once sync.Once
	return func() { once.Do(func() { n.unhandle(event) }) }, nil
}

func (n *Namespace) unhandle(event string) {
	t := &n.handlers
	t.mu.Lock()
	defer t.mu.Unlock()
	next := maps.Clone(*t.events.Load())
	delete(next, event)
	t.events.Store(&next)
}

// OnUnhandled registers h for the events of any socket of the namespace
// (and of the namespaces a dynamic namespace creates) that have no
// handler, neither on the socket nor on the namespace. It runs after the
// socket's own unhandled-event handlers.
func (n *Namespace) OnUnhandled(h UnhandledHandler) {
	t := &n.handlers
	t.mu.Lock()
	defer t.mu.Unlock()
	var next []UnhandledHandler
	if old := t.unhandled.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, h)
	t.unhandled.Store(&next)
}

// handler returns the namespace's handler for event: its own, or else its
// parent's for a child of a dynamic namespace.
func (n *Namespace) handler(event string) EventHandler {
	for ; n != nil; n = n.parent {
		if m := n.handlers.events.Load(); m != nil {
			if h := (*m)[event]; h != nil {
				return h
			}
		}
	}
	return nil
}

// unhandledHandlers returns the namespace's unhandled-event handlers, then
// its parent's.
func (n *Namespace) unhandledHandlers() []UnhandledHandler {
	own := n.handlers.unhandled.Load()
	if n.parent == nil {
		if own == nil {
			return nil
		}
		return *own
	}
	var hs []UnhandledHandler
	if own != nil {
		hs = append(hs, *own...)
	}
	return append(hs, n.parent.unhandledHandlers()...)
}
