package memstore

import (
	"math/rand/v2"
	"testing"
)

// Growing the table keeps every key's estimate: after it, each key reads
// the count it read before, and counting goes on from there.
func TestSketchGrowKeepsEstimates(t *testing.T) {
	s := newSketch(4096)
	if len(s.table) != minSketchLen {
		t.Fatalf("a new sketch has %d words, want %d", len(s.table), minSketchLen)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, 200)
	for i := range keys {
		keys[i] = rng.Uint64()
		for range i % 7 {
			s.increment(keys[i])
		}
	}
	before := make([]int, len(keys))
	for i, h := range keys {
		before[i] = s.frequency(h)
	}
	for _, entries := range []int{17, 100, 1000, 100000} {
		s.grow(entries)
		want := min(max(entries, minSketchLen), 4096)
		if entries > 16 && len(s.table) < want {
			t.Fatalf("grow(%d): %d words, want at least %d", entries, len(s.table), want)
		}
		if len(s.table) > 4096 {
			t.Fatalf("grow(%d): %d words, over the maximum 4096", entries, len(s.table))
		}
		for i, h := range keys {
			if got := s.frequency(h); got != before[i] {
				t.Fatalf("grow(%d): key %d reads %d, read %d before", entries, i, got, before[i])
			}
		}
	}
	s.increment(keys[1])
	if got := s.frequency(keys[1]); got != before[1]+1 {
		t.Fatalf("after growing, an increment reads %d, want %d", got, before[1]+1)
	}
}
