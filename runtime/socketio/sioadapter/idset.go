package sioadapter

// idSet is a set of strings (socket ids or room names) that stores one
// element without allocating. Most sets in an adapter hold one element:
// every socket is alone in the room named after it, and most sockets are in
// few rooms, so this keeps an idle connection's membership cheap.
// An idSet is a value; store it back after changing it.
type idSet struct {
	one  string
	has  bool                // one holds an element
	many map[string]struct{} // all elements, once there have been two
}

// add inserts s and reports whether it was not there already.
func (t *idSet) add(s string) bool {
	switch {
	case t.many != nil:
		if _, in := t.many[s]; in {
			return false
		}
		t.many[s] = struct{}{}
	case !t.has:
		t.one, t.has = s, true
	case t.one == s:
		return false
	default:
		t.many = map[string]struct{}{t.one: {}, s: {}}
		t.one, t.has = "", false
	}
	return true
}

// remove deletes s and reports whether it was there.
func (t *idSet) remove(s string) bool {
	if t.many != nil {
		if _, in := t.many[s]; !in {
			return false
		}
		delete(t.many, s)
		return true
	}
	if t.has && t.one == s {
		t.one, t.has = "", false
		return true
	}
	return false
}

func (t idSet) contains(s string) bool {
	if t.many != nil {
		_, in := t.many[s]
		return in
	}
	return t.has && t.one == s
}

func (t idSet) len() int {
	if t.many != nil {
		return len(t.many)
	}
	if t.has {
		return 1
	}
	return 0
}

// all yields every element, in no particular order.
func (t idSet) all(yield func(string) bool) {
	if t.many != nil {
		for s := range t.many {
			if !yield(s) {
				return
			}
		}
		return
	}
	if t.has {
		yield(t.one)
	}
}
