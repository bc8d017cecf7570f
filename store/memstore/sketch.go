package memstore

import "math/bits"

// sketch is a count-min sketch of 4-bit counters that estimates how often a
// key was used recently (TinyLFU's frequency filter, as in Caffeine). Each
// key has one counter in each of four rows; its estimate is the smallest of
// them, so collisions can only overstate a count. Once the sketch has
// counted sampleSize uses, every counter is halved, so that old popularity
// fades and a key has to stay in use to stay frequent.
//
// The table starts small and doubles as its shard fills (grow), up to a
// word per entry of the shard's capacity, so that an empty store does not
// hold a table sized for its bound.
//
// A sketch is not safe for concurrent use: a shard guards its own.
type sketch struct {
	table      []uint64 // 16 counters of 4 bits per word
	mask       uint64   // len(table)-1; len(table) is a power of two
	maxLen     int      // the length grow stops at
	additions  int
	sampleSize int
}

// minSketchLen is the length a sketch's table starts at (at most its
// maximum).
const minSketchLen = 16

func newSketch(capacity int) sketch {
	maxLen := 1
	if capacity > 1 {
		maxLen = 1 << bits.Len(uint(capacity-1))
	}
	n := min(maxLen, minSketchLen)
	return sketch{table: make([]uint64, n), mask: uint64(n - 1), maxLen: maxLen, sampleSize: 10 * max(capacity, 1)}
}

// grow doubles the table until it has a word per entry for entries
// entries, or reaches its maximum. Each doubling copies the table into
// both halves: a key's word in the doubled table is its old word or the
// one a half further, both of which hold the old counts, so every
// estimate stays what it was.
func (s *sketch) grow(entries int) {
	if entries <= len(s.table) || len(s.table) >= s.maxLen {
		return
	}
	n := len(s.table)
	for n < entries && n < s.maxLen {
		n *= 2
	}
	t := make([]uint64, n)
	for i := 0; i < n; i += len(s.table) {
		copy(t[i:], s.table)
	}
	s.table, s.mask = t, uint64(n-1)
}

// slot returns the word and the bit offset of the counter of row i.
func (s *sketch) slot(h uint64, i int) (word uint64, shift uint) {
	// Each row remixes the key's hash with its own odd constant.
	seeds := [4]uint64{0x97cb3127c3a5c85d, 0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f}
	x := (h ^ seeds[i]) * seeds[(i+1)&3]
	x ^= x >> 29
	// Row i uses counters 4i..4i+3 of a word, so the rows never share a
	// counter; the low two bits of x pick one of the four.
	return x & s.mask, uint(i*4+int(x>>62)) * 4
}

// frequency returns the estimated number of recent uses of the key with
// hash h, from 0 to 15.
func (s *sketch) frequency(h uint64) int {
	f := 15
	for i := range 4 {
		w, sh := s.slot(h, i)
		f = min(f, int(s.table[w]>>sh&15))
	}
	return f
}

// increment counts one use of the key with hash h. Only the counters at
// the minimum grow (conservative update), which keeps collisions from
// inflating other keys' estimates.
func (s *sketch) increment(h uint64) {
	var words [4]uint64
	var shifts [4]uint
	f := uint64(15)
	for i := range 4 {
		words[i], shifts[i] = s.slot(h, i)
		f = min(f, s.table[words[i]]>>shifts[i]&15)
	}
	if f == 15 {
		return
	}
	for i := range 4 {
		if s.table[words[i]]>>shifts[i]&15 == f {
			s.table[words[i]] += 1 << shifts[i]
		}
	}
	s.additions++
	if s.additions >= s.sampleSize {
		s.halve()
	}
}

// halve divides every counter by two.
func (s *sketch) halve() {
	for i, w := range s.table {
		s.table[i] = (w >> 1) & 0x7777777777777777
	}
	s.additions /= 2
}
