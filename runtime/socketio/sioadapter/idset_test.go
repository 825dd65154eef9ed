package sioadapter

import (
	"slices"
	"testing"
)

func TestIDSet(t *testing.T) {
	var s idSet
	check := func(want ...string) {
		t.Helper()
		if got := slices.Sorted(s.all); !slices.Equal(got, want) || s.len() != len(want) {
			t.Fatalf("set = %v (len %d), want %v", got, s.len(), want)
		}
		for _, w := range want {
			if !s.contains(w) {
				t.Fatalf("contains(%q) = false", w)
			}
		}
	}
	check()
	if !s.add("a") || s.add("a") {
		t.Fatal("add a: first must insert, second must not")
	}
	check("a")
	if !s.add("b") || s.add("b") || s.add("a") {
		t.Fatal("add b")
	}
	check("a", "b")
	if s.contains("c") || s.remove("c") {
		t.Fatal("c is not in the set")
	}
	if !s.remove("a") || s.remove("a") {
		t.Fatal("remove a")
	}
	check("b")
	s.remove("b")
	check()
	var one idSet
	one.add("x")
	if one.remove("y") || !one.remove("x") || one.contains("x") {
		t.Fatal("single-element removal")
	}
}
