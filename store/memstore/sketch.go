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
		// A row indexes with 32 bits of the key's hash (slots).
		maxLen = 1 << min(bits.Len(uint(capacity-1)), 32)
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

// slots returns, for the key with hash h, the word of each row's counter,
// and a byte that picks the counter in each word (see offsets). The four
// words are in one block of eight (64 bytes, a cache line), so that a
// count or an estimate reads and writes one line, not four: the block is
// picked by a remix of h, and each row's word in it by three bits of
// another. A key's word is a fixed number masked by the table's length,
// which grow relies on.
func (s *sketch) slots(h uint64) (w0, w1, w2, w3, pick uint64) {
	a := (h ^ 0x97cb3127c3a5c85d) * 0xc3a5c85c97cb3127
	a ^= a >> 29
	b := (h ^ 0xb492b66fbe98f273) * 0x9ae16a3b2f90404f
	b ^= b >> 29
	m := s.mask
	base := a << 3
	return (base | b&7) & m, (base | b>>3&7) & m, (base | b>>6&7) & m, (base | b>>9&7) & m, h * 0xff51afd7ed558ccd >> 56
}

// offsets returns the bit offset of each row's counter in its word: row i
// uses counters 4i..4i+3 of its word, so two rows never share a counter
// even when they pick the same word, and two bits of pick choose one of
// the four.
func offsets(pick uint64) (s0, s1, s2, s3 uint) {
	return uint(pick&3) * 4, uint(4+pick>>2&3) * 4, uint(8+pick>>4&3) * 4, uint(12+pick>>6) * 4
}

// frequency returns the estimated number of recent uses of the key with
// hash h, from 0 to 15.
func (s *sketch) frequency(h uint64) int {
	w0, w1, w2, w3, pick := s.slots(h)
	s0, s1, s2, s3 := offsets(pick)
	t := s.table
	return int(min(t[w0]>>s0&15, t[w1]>>s1&15, t[w2]>>s2&15, t[w3]>>s3&15))
}

// increment counts one use of the key with hash h. Only the counters at
// the minimum grow (conservative update), which keeps collisions from
// inflating other keys' estimates.
func (s *sketch) increment(h uint64) {
	w0, w1, w2, w3, pick := s.slots(h)
	s0, s1, s2, s3 := offsets(pick)
	t := s.table
	c0, c1, c2, c3 := t[w0]>>s0&15, t[w1]>>s1&15, t[w2]>>s2&15, t[w3]>>s3&15
	f := min(c0, c1, c2, c3)
	if f == 15 {
		return
	}
	// Rows that share a word change different counters of it.
	if c0 == f {
		t[w0] += 1 << s0
	}
	if c1 == f {
		t[w1] += 1 << s1
	}
	if c2 == f {
		t[w2] += 1 << s2
	}
	if c3 == f {
		t[w3] += 1 << s3
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
