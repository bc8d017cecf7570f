package cache

import (
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// entry is one value of a memory region, and a link of its bucket's chain.
// It is never modified once published: a write replaces it (and copies the
// links before it in the chain), so that readers walk chains without locks.
type entry struct {
	key     string
	hash    uint64
	value   any    // the Go value; nil when enc is set
	enc     []byte // the codec's encoding, on a RoundTrip region; else nil
	created int64  // unix nanoseconds
	next    *entry
}

// localMap is the map of a memory region: shards, each a hash table whose
// buckets are atomic pointers to immutable chains. Reads take no lock and
// write nothing shared; writes take their shard's mutex and publish new
// chains.
type localMap struct {
	seed      maphash.Seed
	shardMask uint64
	shardBits uint
	perShard  int
	shards    []shard
}

type shard struct {
	tab atomic.Pointer[table]
	mu  sync.Mutex // serializes writers
	n   int        // entries, guarded by mu
	_   [64 - 8 - 8 - 8]byte
}

// table is a shard's bucket array; a shard grows by publishing a new one.
type table struct {
	buckets []atomic.Pointer[entry]
	mask    uint64
}

// maxShards is the number of shards of a large memory region; smaller ones
// have fewer, so that each shard holds at least minPerShard entries. A
// shard's table starts at minBuckets and doubles while it holds more
// entries than buckets.
const (
	maxShards   = 64
	minPerShard = 8
	minBuckets  = 8
	evictSample = 8
)

func newLocalMap(maxEntries int) *localMap {
	n, bits := maxShards, uint(6)
	for n > 1 && n*minPerShard > maxEntries {
		n /= 2
		bits--
	}
	l := &localMap{
		seed:      maphash.MakeSeed(),
		shardMask: uint64(n - 1),
		shardBits: bits,
		perShard:  max(maxEntries/n, 1),
		shards:    make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].tab.Store(newTable(minBuckets))
	}
	return l
}

func newTable(n int) *table {
	return &table{buckets: make([]atomic.Pointer[entry], n), mask: uint64(n - 1)}
}

// bucket returns the bucket of hash h in t (the shard took the low bits).
func (l *localMap) bucket(t *table, h uint64) *atomic.Pointer[entry] {
	return &t.buckets[(h>>l.shardBits)&t.mask]
}

// get returns the entry of key, or nil. It takes no lock.
func (l *localMap) get(key string) *entry {
	h := maphash.String(l.seed, key)
	t := l.shards[h&l.shardMask].tab.Load()
	for e := l.bucket(t, h).Load(); e != nil; e = e.next {
		if e.hash == h && e.key == key {
			return e
		}
	}
	return nil
}

// put stores e under key, unless the entry there was created later (a
// concurrent Set won). When the shard is full it first drops a victim.
func (l *localMap) put(key string, e *entry, r *Region) {
	h := maphash.String(l.seed, key)
	e.key, e.hash = key, h
	s := &l.shards[h&l.shardMask]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tab.Load()
	b := l.bucket(t, h)
	head := b.Load()
	for old := head; old != nil; old = old.next {
		if old.hash == h && old.key == key {
			if old.created <= e.created {
				b.Store(relink(head, old, e))
			}
			return
		}
	}
	if s.n >= l.perShard && s.n > 0 {
		l.evict(s, t, r)
		head = b.Load()
	}
	e.next = head
	b.Store(e)
	s.n++
	if s.n > len(t.buckets) && s.n <= l.perShard {
		l.grow(s, t)
	}
}

// relink returns the chain head with target replaced by repl, or removed
// when repl is nil: the links before target are copied, the ones after are
// shared.
func relink(head, target, repl *entry) *entry {
	if head == target {
		if repl == nil {
			return target.next
		}
		repl.next = target.next
		return repl
	}
	c := *head
	c.next = relink(head.next, target, repl)
	return &c
}

// grow publishes a table of twice as many buckets. s.mu is held.
func (l *localMap) grow(s *shard, t *table) {
	nt := newTable(2 * len(t.buckets))
	for i := range t.buckets {
		for e := t.buckets[i].Load(); e != nil; e = e.next {
			c := *e
			b := l.bucket(nt, c.hash)
			c.next = b.Load()
			b.Store(&c)
		}
	}
	s.tab.Store(nt)
}

// evict drops one entry of a few sampled from a random bucket on: the first
// that is logically missing, else the oldest. s.mu is held.
func (l *localMap) evict(s *shard, t *table, r *Region) {
	now := r.m.now()
	var victim *entry
	n := 0
	start := rand.Uint64()
scan:
	for i := range uint64(len(t.buckets)) {
		for e := t.buckets[(start+i)&t.mask].Load(); e != nil; e = e.next {
			if r.classify(e.created, now) == missing {
				victim = e
				break scan
			}
			if victim == nil || e.created < victim.created {
				victim = e
			}
			if n++; n == evictSample {
				break scan
			}
		}
	}
	if victim != nil {
		l.remove(s, t, victim)
	}
}

// remove unlinks e from its bucket in t. s.mu is held.
func (l *localMap) remove(s *shard, t *table, e *entry) {
	b := l.bucket(t, e.hash)
	b.Store(relink(b.Load(), e, nil))
	s.n--
}

func (l *localMap) delete(key string) {
	h := maphash.String(l.seed, key)
	s := &l.shards[h&l.shardMask]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tab.Load()
	for e := l.bucket(t, h).Load(); e != nil; e = e.next {
		if e.hash == h && e.key == key {
			l.remove(s, t, e)
			return
		}
	}
}
