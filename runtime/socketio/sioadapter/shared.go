package sioadapter

import "sync"

// Shared holds one value per server, as Host.Server identifies servers:
// made when the server's first adapter acquires it, to be closed when its
// last one releases it. Adapters keep in it what every namespace of one
// server shares, such as the broker connection. The zero value is ready.
type Shared[H any] struct {
	mu sync.Mutex
	m  map[any]*sharedRef[H]
}

type sharedRef[H any] struct {
	value H
	refs  int
}

// Acquire returns the value of server, making it with create if there is
// none, and counts one more user.
func (s *Shared[H]) Acquire(server any, create func() H) H {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[any]*sharedRef[H]{}
	}
	r := s.m[server]
	if r == nil {
		r = &sharedRef[H]{value: create()}
		s.m[server] = r
	}
	r.refs++
	return r.value
}

// Release counts one user of server's value less and reports whether it
// was the last, which must then close the value.
func (s *Shared[H]) Release(server any) (last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[server]
	if r == nil {
		return false
	}
	if r.refs--; r.refs > 0 {
		return false
	}
	delete(s.m, server)
	return true
}
