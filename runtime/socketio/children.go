package socketio

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
		if _, child := s.childRefs[n]; child {
			s.childRefs[n]++
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
	s.childRefs[n] = 1
	p.mu.Lock()
	p.children[name] = n
	p.mu.Unlock()
	return n, nil
}

// releaseChild gives back one count taken by childFor (a socket leaving,
// or a CONNECT refused). Unless the server keeps empty children, the last
// one removes the child and closes its adapter, as the reference does with
// cleanupEmptyChildNamespaces. Namespaces other than children are ignored.
func (s *Server) releaseChild(n *Namespace) {
	s.mu.Lock()
	refs, child := s.childRefs[n]
	if !child {
		s.mu.Unlock()
		return
	}
	if refs--; refs > 0 || s.opts.KeepEmptyChildNamespaces || s.closed {
		s.childRefs[n] = refs
		s.mu.Unlock()
		return
	}
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
