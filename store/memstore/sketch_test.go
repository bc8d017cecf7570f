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

// A sketch sized for its keys estimates their counts: never below the
// true count (a count-min sketch can only overstate), and exactly for
// nearly all of them. A sketch whose rows collide together, or that picks
// counters from too few bits of the hash, overstates far more often.
func TestSketchEstimates(t *testing.T) {
	const n = 4096
	s := newSketch(n)
	s.grow(n)
	rng := rand.New(rand.NewPCG(5, 6))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	// Interleaved, as a store sees them: key i is used i%16 times, at
	// most 15, the counters' top; 30,720 uses in all, fewer than the
	// 40,960 after which every count is halved.
	for round := range 15 {
		for i, h := range keys {
			if round < i%16 {
				s.increment(h)
			}
		}
	}
	exact := 0
	for i, h := range keys {
		got, want := s.frequency(h), i%16
		if got < want {
			t.Fatalf("key %d: estimate %d, below its count %d", i, got, want)
		}
		if got == want {
			exact++
		}
	}
	t.Logf("%d of %d estimates exact", exact, n)
	if exact < n*995/1000 {
		t.Fatalf("%d of %d estimates exact, want at least 99.5%%", exact, n)
	}
}
