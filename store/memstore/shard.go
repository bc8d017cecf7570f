package memstore

import (
	"container/heap"
	"sync"
)

// entryOverhead is what an entry costs beyond its key and value bytes, for
// the byte bound: the entry struct, its map slot and its heap slot, roughly.
const entryOverhead = 128

// Where an entry sits in its shard's W-TinyLFU policy.
const (
	inWindow    uint8 = iota // admission window: new entries, LRU (by marks: see list.leastRecent)
	inProbation              // main space, used once since it got in
	inProtected              // main space, used again since
)

type entry struct {
	key        string
	value      []byte // never modified in place: a write replaces the slice
	hash       uint64
	version    uint64
	expires    int64 // unix nanoseconds; 0: never
	due        int64 // when the expiry heap looks at it again: <= expires (see setExpiry)
	prev, next *entry
	heapIndex  int // index in shard.expiry, -1 when not there
	queue      uint8
	// used is set by a use of the entry since its list last looked at it
	// (see list.leastRecent): a use marks the entry instead of moving it.
	used bool
}

func (e *entry) cost() int64 { return cost(e.key, e.value) }

func cost(key string, value []byte) int64 {
	return int64(len(key)+len(value)) + entryOverhead
}

// list is a circular doubly linked list of entries with a sentinel; the
// front is the most recently used.
type list struct {
	root entry
	n    int
}

func (l *list) init() { l.root.next, l.root.prev = &l.root, &l.root }

func (l *list) pushFront(e *entry) {
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
}

func (l *list) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	l.n--
}

func (l *list) moveToFront(e *entry) {
	if l.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
}

// leastRecent returns the least recently used entry other than skip, or nil.
// Uses mark an entry (used) rather than move it to the front, so that a
// read writes no list link (it still writes the shard's lock and sketch):
// an entry marked since the list last looked at it gets
// a second chance here (CLOCK), its mark cleared and moved to the front.
// That approximates the order the uses would have made (the marked
// entries go to the front in list order, not in the order of their uses);
// callers put the entry they were called for back in front of them. One
// call may pass over a whole list of marked entries, under the shard's
// lock; each mark is passed over once, so it is paid for by the use that
// set it.
func (l *list) leastRecent(skip *entry) *entry {
	for {
		e := l.back(skip)
		if e == nil || !e.used {
			return e
		}
		e.used = false
		l.moveToFront(e)
	}
}

// back returns the entry at the back other than skip, or nil.
func (l *list) back(skip *entry) *entry {
	e := l.root.prev
	if e == skip {
		e = e.prev
	}
	if e == &l.root {
		return nil
	}
	return e
}

// shard is one part of a Store: the keys whose hash falls in it, with its
// own lock, bounds and eviction policy.
type shard struct {
	mu sync.Mutex

	entries map[string]*entry
	version uint64     // last version given out in this shard
	bytes   int64      // sum of the entries' costs
	expiry  expiryHeap // ordered by due; see setExpiry

	// W-TinyLFU: a small LRU window takes new entries; the main space is
	// a segmented LRU (probation, protected). An entry leaving the window
	// when the shard is full gets in only if the sketch says it was used
	// more often than the main space's coldest entry, which it replaces.
	window, probation, protected list
	sketch                       sketch

	maxEntries   int
	maxBytes     int64
	windowMax    int
	protectedMax int

	_ [64]byte // keeps the next shard's lock off this one's cache line
}

func (sh *shard) init(maxEntries int, maxBytes int64) {
	sh.entries = make(map[string]*entry)
	sh.maxEntries = max(maxEntries, 1)
	sh.maxBytes = maxBytes
	sh.windowMax = max(1, sh.maxEntries/100)
	sh.protectedMax = (sh.maxEntries - sh.windowMax) * 8 / 10
	sh.window.init()
	sh.probation.init()
	sh.protected.init()
	sh.sketch = newSketch(sh.maxEntries)
}

// live returns the unexpired entry for key, removing an expired one.
// sh.mu is held.
func (sh *shard) live(key string, now int64) *entry {
	e := sh.entries[key]
	if e == nil {
		return nil
	}
	if e.expires != 0 && e.expires <= now {
		sh.remove(e)
		return nil
	}
	return e
}

// access records a use of e: it counts in the sketch, and marks e (window,
// protected) or moves it up (an entry of probation used again becomes
// protected, and the protected space's least recently used entry other
// than e goes back to probation if the space is over). sh.mu is held.
func (sh *shard) access(e *entry) {
	sh.sketch.increment(e.hash)
	switch e.queue {
	case inProbation:
		sh.probation.unlink(e)
		e.queue, e.used = inProtected, false
		sh.protected.pushFront(e)
		if sh.protected.n > sh.protectedMax {
			d := sh.protected.leastRecent(e)
			if d == nil {
				d = e // a protected space of none
			}
			sh.protected.unlink(d)
			d.queue = inProbation
			sh.probation.pushFront(d)
			if d != e {
				// The marked entries passed over went in front of e,
				// which was used last.
				sh.protected.moveToFront(e)
			}
		}
	default: // window, protected: marked; see list.leastRecent
		if !e.used {
			e.used = true
		}
	}
}

// put stores v (owned by the store from now on) under key, which hashes to
// h, and makes room if the shard is over a bound. It returns how many live
// entries were evicted. sh.mu is held, and e is what live(key) returned
// under this same hold.
func (sh *shard) put(key string, h uint64, e *entry, v []byte, expires, now int64) (evicted int) {
	sh.version++
	if e != nil {
		sh.bytes += int64(len(v) - len(e.value))
		e.value = v
		e.version = sh.version
		sh.setExpiry(e, expires)
		sh.access(e)
	} else {
		e = &entry{key: key, value: v, hash: h, version: sh.version, heapIndex: -1, queue: inWindow}
		sh.entries[key] = e
		sh.bytes += e.cost()
		sh.setExpiry(e, expires)
		sh.sketch.grow(len(sh.entries))
		sh.sketch.increment(h)
		sh.window.pushFront(e)
	}
	return sh.makeRoom(now, e)
}

func (sh *shard) over() bool {
	return len(sh.entries) > sh.maxEntries || sh.bytes > sh.maxBytes
}

// makeRoom brings the shard back within its bounds, never evicting keep
// (the entry just written). Expired entries go first; then an entry that
// leaves the window competes with the main space's coldest entry, and the
// one the sketch counts fewer uses for is evicted (the newcomer on a tie).
// It returns how many live entries it evicted. sh.mu is held.
func (sh *shard) makeRoom(now int64, keep *entry) (evicted int) {
	if !sh.over() && sh.window.n <= sh.windowMax {
		return 0
	}
	evicted = sh.evict(now, keep)
	// The marked entries that the lists passed over went in front of keep,
	// which was used last: it goes back in front of them.
	switch keep.queue {
	case inWindow:
		sh.window.moveToFront(keep)
	case inProtected:
		sh.protected.moveToFront(keep)
	}
	keep.used = false
	return evicted
}

// evict is makeRoom but for keep's place in its list.
func (sh *shard) evict(now int64, keep *entry) (evicted int) {
	for {
		if !sh.over() {
			// Room enough: the window's overflow enters the main space.
			for sh.window.n > sh.windowMax {
				c := sh.window.leastRecent(keep)
				sh.window.unlink(c)
				c.queue = inProbation
				sh.probation.pushFront(c)
			}
			return evicted
		}
		if e := sh.next(now); e != nil {
			sh.remove(e)
			continue
		}
		if sh.window.n > sh.windowMax {
			c := sh.window.leastRecent(keep)
			v := sh.mainVictim(keep)
			switch {
			case c == nil:
				// Only keep is in the window: fall through to the coldest.
			case v == nil:
				sh.window.unlink(c)
				c.queue = inProbation
				sh.probation.pushFront(c)
				continue
			case sh.sketch.frequency(c.hash) > sh.sketch.frequency(v.hash):
				sh.remove(v)
				sh.window.unlink(c)
				c.queue = inProbation
				sh.probation.pushFront(c)
				evicted++
				continue
			default:
				sh.remove(c)
				evicted++
				continue
			}
		}
		v := sh.coldest(keep)
		if v == nil {
			return evicted // keep alone; its size was checked by the caller
		}
		sh.remove(v)
		evicted++
	}
}

// mainVictim returns the main space's coldest entry other than skip: the
// back of probation, else of protected.
func (sh *shard) mainVictim(skip *entry) *entry {
	if v := sh.probation.leastRecent(skip); v != nil {
		return v
	}
	return sh.protected.leastRecent(skip)
}

// coldest returns, of the backs of probation, window and protected (other
// than skip), the one that the sketch counts fewest uses for.
func (sh *shard) coldest(skip *entry) *entry {
	var best *entry
	bestFreq := 0
	for _, c := range [3]*entry{sh.probation.leastRecent(skip), sh.window.leastRecent(skip), sh.protected.leastRecent(skip)} {
		if c == nil {
			continue
		}
		if f := sh.sketch.frequency(c.hash); best == nil || f < bestFreq {
			best, bestFreq = c, f
		}
	}
	return best
}

func (sh *shard) remove(e *entry) {
	delete(sh.entries, e.key)
	sh.bytes -= e.cost()
	switch e.queue {
	case inWindow:
		sh.window.unlink(e)
	case inProbation:
		sh.probation.unlink(e)
	case inProtected:
		sh.protected.unlink(e)
	}
	if e.heapIndex >= 0 {
		heap.Remove(&sh.expiry, e.heapIndex)
	}
}

// setExpiry sets e's expiry. The expiry heap is ordered by due, which is
// never later than expires, and it is lazy: an expiry moved later (every
// session save and touch moves it later) leaves the heap as it is, and the
// entry moves to its new place only when its old due time comes (next). An
// earlier expiry moves it up the heap now, a first one pushes it; an entry
// that no longer expires leaves the heap when its due time comes. So the
// common write costs no heap work, where heap.Fix cost a cache miss per
// level on a large store. sh.mu is held.
func (sh *shard) setExpiry(e *entry, expires int64) {
	e.expires = expires
	switch {
	case expires == 0:
	case e.heapIndex < 0:
		e.due = expires
		heap.Push(&sh.expiry, e)
	case expires < e.due:
		e.due = expires
		heap.Fix(&sh.expiry, e.heapIndex)
	}
}

// next returns an expired entry of the heap, the one due first, or nil when
// none is: entries whose due time has come but whose expiry moved later go
// to their new place (or leave the heap when they no longer expire) on the
// way. sh.mu is held.
func (sh *shard) next(now int64) *entry {
	for {
		if e, done := sh.step(now); e != nil || done {
			return e
		}
	}
}

// step takes one step of next: it returns the expired entry due first, or
// done when no entry is due, or neither after it moved one entry on.
// sh.mu is held.
func (sh *shard) step(now int64) (expired *entry, done bool) {
	if len(sh.expiry) == 0 {
		return nil, true
	}
	e := sh.expiry[0]
	switch {
	case e.due > now:
		return nil, true
	case e.expires == 0:
		heap.Pop(&sh.expiry)
	case e.expires <= now:
		return e, false
	default:
		e.due = e.expires
		heap.Fix(&sh.expiry, 0)
	}
	return nil, false
}

// purgeBatch bounds the steps (removals and entries moved on) that purge
// takes under one hold of the shard's lock: when many entries come due at
// once (sessions created together, with one lifetime), requests wait for a
// batch, not for all of them.
const purgeBatch = 256

// purge removes expired entries, taking at most purgeBatch steps, and
// reports how many it removed and whether some may be left. sh.mu is held.
func (sh *shard) purge(now int64) (n int, more bool) {
	for range purgeBatch {
		e, done := sh.step(now)
		if done {
			return n, false
		}
		if e != nil {
			sh.remove(e)
			n++
		}
	}
	return n, true
}

// expiryHeap orders entries by due: those with an expiry, and those whose
// expiry was removed since they were pushed.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.heapIndex = -1
	*h = old[:len(old)-1]
	return e
}
