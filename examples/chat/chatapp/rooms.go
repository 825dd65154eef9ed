package chatapp

import (
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sio-dev/sio/runtime/socketio"
)

// rooms tracks who is in which room. Each socket is one person in one
// room, under a name no one else in that room has: a second "ann" becomes
// "ann (2)". It is not safe for concurrent use; the service's lock guards
// it.
type rooms struct {
	names  map[string]map[string]*socketio.Socket // room -> display name -> its socket
	joined map[*socketio.Socket]membership
}

// membership is where one socket has joined, and under which name.
type membership struct{ room, name string }

func newRooms() *rooms {
	return &rooms{names: map[string]map[string]*socketio.Socket{}, joined: map[*socketio.Socket]membership{}}
}

// join puts s, which must not be in a room, in room under a name based on
// want, and returns the name it got.
func (r *rooms) join(s *socketio.Socket, room, want string) membership {
	if r.names[room] == nil {
		r.names[room] = map[string]*socketio.Socket{}
	}
	m := membership{room, r.freeName(room, want)}
	r.names[room][m.name] = s
	r.joined[s] = m
	return m
}

// numbered matches a name this service made unique, such as "ann (2)".
var numbered = regexp.MustCompile(`^(.+) \((\d+)\)$`)

// freeName returns want if no one in room has it, else the first free
// "want (n)" for n from 2. A page that reconnects asks again for the name
// it was given, "ann (2)"; if someone took it meanwhile, it gets the next
// free number rather than "ann (2) (2)".
func (r *rooms) freeName(room, want string) string {
	taken := r.names[room]
	if taken[want] == nil {
		return want
	}
	base := want
	if sub := numbered.FindStringSubmatch(want); sub != nil {
		base = sub[1]
	}
	for n := 2; ; n++ {
		name := withSuffix(base, " ("+strconv.Itoa(n)+")")
		if taken[name] == nil {
			return name
		}
	}
}

// withSuffix appends suffix to base, shortening base (by whole runes) so
// that the result still fits in maxNameLen bytes and can be asked for
// again.
func withSuffix(base, suffix string) string {
	for len(base)+len(suffix) > maxNameLen && base != "" {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	return base + suffix
}

// leave takes s out of its room and reports where it was.
func (r *rooms) leave(s *socketio.Socket) (membership, bool) {
	m, ok := r.joined[s]
	if !ok {
		return m, false
	}
	delete(r.joined, s)
	delete(r.names[m.room], m.name)
	if len(r.names[m.room]) == 0 {
		delete(r.names, m.room)
	}
	return m, true
}

// of returns where s has joined.
func (r *rooms) of(s *socketio.Socket) (membership, bool) {
	m, ok := r.joined[s]
	return m, ok
}

// members returns the names in room, sorted.
func (r *rooms) members(room string) []string {
	out := make([]string, 0, len(r.names[room]))
	for name := range r.names[room] {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
