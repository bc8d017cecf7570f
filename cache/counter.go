package cache

import (
	"sync/atomic"
	"unsafe"
)

// counterStripes is the number of cache lines a striped counter spreads
// over: 1 << stripeBits.
const (
	stripeBits     = 5
	counterStripes = 1 << stripeBits
)

// striped is a counter that cores add to without sharing a cache line: an
// add goes to the stripe of the calling goroutine's stack, and goroutines
// on different cores seldom share one. A region's hits and misses are
// striped because every read adds to one of them (and every call of a
// disabled region to its creator runs): one shared atomic made
// reads on two cores slower than on one (BenchmarkGetHitParallel).
type striped struct {
	stripes [counterStripes]struct {
		n atomic.Uint64
		_ [64 - 8]byte
	}
}

// add adds one.
func (c *striped) add() {
	var marker byte
	a := uint64(uintptr(unsafe.Pointer(&marker))) >> 11 // stacks are 2 KiB or more apart
	c.stripes[(a*0x9E3779B97F4A7C15)>>(64-stripeBits)].n.Add(1)
}

// load returns the sum of the stripes. Adds that run meanwhile may or may
// not be in it.
func (c *striped) load() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}
