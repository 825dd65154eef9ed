package events

import (
	"errors"
	"slices"
	"testing"
)

// taken returns the handlers Take gives for event.
func taken(h *Handlers[string], event string) []string {
	var out []string
	for _, e := range h.Take(event) {
		out = append(out, e.H)
	}
	return out
}

func TestHandlers(t *testing.T) {
	var h Handlers[string]
	h.On("e", "a", false)
	h.On("e", "once", true)
	off := h.On("e", "b", false)
	if got := taken(&h, "e"); !slices.Equal(got, []string{"a", "once", "b"}) {
		t.Fatalf("first Take %v", got)
	}
	if got := taken(&h, "e"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("once handler still there: %v", got)
	}
	off()
	if got := taken(&h, "e"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after off %v", got)
	}
	h.Off("e")
	if got := taken(&h, "e"); got != nil {
		t.Fatalf("after Off %v", got)
	}
}

// TestTakenHandlersStayPut: Take hands out the stored slice, so later
// registrations and removals must not change what an earlier Take returned.
func TestTakenHandlersStayPut(t *testing.T) {
	var h Handlers[string]
	offA := h.On("e", "a", false)
	h.On("e", "b", false)
	got := h.Take("e")
	h.On("e", "c", false)
	offA()
	h.On("e", "d", false)
	if len(got) != 2 || got[0].H != "a" || got[1].H != "b" {
		t.Fatalf("an earlier Take changed to %v", got)
	}
	if now := taken(&h, "e"); !slices.Equal(now, []string{"b", "c", "d"}) {
		t.Fatalf("Take %v", now)
	}
	if n := testing.AllocsPerRun(100, func() { h.Take("e") }); n != 0 {
		t.Errorf("Take allocates %v times", n)
	}
}

func TestAcks(t *testing.T) {
	var a Acks[int]
	var got []error
	id1, _ := a.Add(func(_ int, err error) { got = append(got, err) })
	id2, _ := a.Add(func(_ int, err error) { got = append(got, err) })
	if id1 == id2 {
		t.Fatal("same id twice")
	}
	if cb := a.Take(id1); cb == nil {
		t.Fatal("Take lost the callback")
	}
	if a.Drop(id1) {
		t.Error("Drop after Take reported pending")
	}
	a.Set(99, func(int, error) { got = append(got, errors.New("99")) })
	boom := errors.New("gone")
	a.Fail(boom, true)
	if len(got) != 2 {
		t.Fatalf("Fail ran %d callbacks, want 2", len(got))
	}
	if _, ok := a.Add(func(int, error) {}); ok {
		t.Error("Add after a closing Fail succeeded")
	}
}
