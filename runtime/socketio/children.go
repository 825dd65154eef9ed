package socketio

import "time"

// Refusals at the namespace limits; the client gets the message in its
// connect_error event.
var (
	errTooManyForConnection = &ConnectError{Message: "Too many namespaces on this connection"}
	errTooManyForServer     = &ConnectError{Message: "Too many namespaces on this server"}
)

// Defaults of the namespace limits in Options.
const (
	defaultMaxNamespacesPerConnection = 100
	defaultMaxDynamicNamespaces       = 10000
)

// childRef is the bookkeeping of one child of a dynamic namespace.
type childRef struct {
	users   int    // connecting and connected sockets
	emptied uint64 // times users fell to 0, to match a delayed removal to its emptying
}

// childFor returns the child of parent p named name, creating it if the
// server's bound on dynamic namespaces allows, and counts one more user of
// it: the caller must hand that count to a socket or give it back with
// releaseChild. Only children are counted, in s.childRefs: a count of
// connecting and connected sockets, so that a child is never removed while
// a CONNECT for it is being vetted.
func (s *Server) childFor(p *Namespace, name string) (*Namespace, *ConnectError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil
	}
	if n := s.nsps[name]; n != nil {
		if ref, child := s.childRefs[n]; child {
			ref.users++
			s.childRefs[n] = ref
		}
		return n, nil
	}
	if max := s.opts.MaxDynamicNamespaces; max > 0 && len(s.childRefs) >= max {
		if !s.atChildLimit {
			s.atChildLimit = true
			s.opts.Logger.Warn("socketio: dynamic namespace limit reached; further new names are refused",
				"limit", max)
		}
		return nil, errTooManyForServer
	}
	n := newNamespace(s, name)
	n.parent = p
	s.nsps[name] = n
	s.childRefs[n] = childRef{users: 1}
	p.mu.Lock()
	p.children[name] = n
	p.mu.Unlock()
	// Run under the lock, unlike Of's: the child is not handed out yet, and
	// hooks only register handlers on it.
	for _, h := range s.onNamespace {
		h(n)
	}
	return n, nil
}

// releaseChild gives back one count taken by childFor (a socket leaving,
// or a CONNECT refused). Unless the server keeps empty children, the last
// one removes the child and closes its adapter, as the reference does with
// cleanupEmptyChildNamespaces. With connection state recovery the removal
// waits for MaxDisconnectionDuration, since the adapter holds the sessions
// the leavers may come back for. Namespaces other than children are ignored.
func (s *Server) releaseChild(n *Namespace) {
	s.mu.Lock()
	ref, child := s.childRefs[n]
	if !child {
		s.mu.Unlock()
		return
	}
	ref.users--
	if ref.users > 0 || s.opts.KeepEmptyChildNamespaces || s.closed {
		s.childRefs[n] = ref
		s.mu.Unlock()
		return
	}
	if r := s.opts.ConnectionStateRecovery; r != nil {
		ref.emptied++
		s.childRefs[n] = ref
		s.mu.Unlock()
		emptied := ref.emptied
		time.AfterFunc(r.MaxDisconnectionDuration, func() { s.removeIfStillEmpty(n, emptied) })
		return
	}
	s.removeChildLocked(n)
}

// removeIfStillEmpty removes child n if it has stayed empty since it
// emptied for the emptied-th time.
func (s *Server) removeIfStillEmpty(n *Namespace, emptied uint64) {
	s.mu.Lock()
	ref, child := s.childRefs[n]
	if !child || ref.users > 0 || ref.emptied != emptied || s.closed {
		s.mu.Unlock()
		return
	}
	s.removeChildLocked(n)
}

// removeChildLocked forgets child n and closes its adapter. It is called
// with s.mu held and releases it.
func (s *Server) removeChildLocked(n *Namespace) {
	delete(s.childRefs, n)
	delete(s.nsps, n.name)
	if max := s.opts.MaxDynamicNamespaces; s.atChildLimit && len(s.childRefs) < max {
		s.atChildLimit = false
	}
	p := n.parent
	p.mu.Lock()
	delete(p.children, n.name)
	p.mu.Unlock()
	s.mu.Unlock()
	if err := n.adapter.Close(); err != nil {
		s.opts.Logger.Warn("socketio: closing the adapter of an empty namespace", "nsp", n.name, "err", err)
	}
	s.opts.Logger.Debug("socketio: empty namespace removed", "nsp", n.name)
}

// pinLocked makes n, if a child, a namespace of its own that stays when
// empty: someone holds it from Server.Of and may register handlers on it.
// s.mu must be held.
func (s *Server) pinLocked(n *Namespace) { delete(s.childRefs, n) }

// childCount returns the number of dynamic namespaces the server holds.
func (s *Server) childCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.childRefs)
}
