package events

import (
	"errors"
	"math/rand/v2"
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

// TestAcksOutOfOrder keeps some acks pending while many more come and go,
// past the ring's growth, then answers them in a shuffled order: each
// callback runs once, for its own id, and Fail runs those left.
func TestAcksOutOfOrder(t *testing.T) {
	var a Acks[int]
	const n = 5 * maxAckRing
	got := make([]int, n)
	ids := make([]uint64, n)
	for i := range n {
		ids[i], _ = a.Add(func(v int, err error) {
			if err != nil {
				v = 1000
			}
			got[i] += v
		})
		// All but every seventh come back soon.
		if j := i - 3; j >= 0 && j%7 != 0 {
			if cb := a.Take(ids[j]); cb != nil {
				cb(1, nil)
			}
		}
	}
	a.Set(ids[7], func(_ int, err error) { got[7] += 100 }) // replaces the pending one
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		if i%2 == 0 {
			if cb := a.Take(ids[i]); cb != nil {
				cb(1, nil)
			}
		}
	}
	if a.Take(uint64(n+10)) != nil {
		t.Error("Take found an id never given")
	}
	a.Fail(errors.New("gone"), false)
	for i, v := range got {
		want := 1
		switch {
		case i == 7:
			want = 100
		case i%7 == 0 && i%2 == 1, i >= n-3 && i%2 == 1:
			want = 1000
		}
		if v != want {
			t.Fatalf("ack %d: callbacks added up to %d, want %d", i, v, want)
		}
	}
}
