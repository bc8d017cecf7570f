package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// entry is one value of a memory region. It is never modified once stored:
// a write replaces it.
type entry struct {
	value   any
	created int64 // unix nanoseconds
}

// localMap is the sharded map of a memory region.
type localMap struct {
	seed     maphash.Seed
	mask     uint64
	perShard int
	shards   []shard
}

type shard struct {
	mu   sync.RWMutex
	m    map[string]*entry
	hits atomic.Uint64 // fast-path hits on this shard's keys
	_    [128 - 24 - 8 - 8]byte
}

// maxShards is the number of shards of a large memory region; smaller ones
// have fewer, so that each shard holds at least minPerShard entries.
const (
	maxShards   = 64
	minPerShard = 8
	evictSample = 8
)

func newLocalMap(maxEntries int) *localMap {
	n := maxShards
	for n > 1 && n*minPerShard > maxEntries {
		n /= 2
	}
	l := &localMap{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		perShard: max(maxEntries/n, 1),
		shards:   make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*entry)
	}
	return l
}

func (l *localMap) shard(key string) *shard {
	if l.mask == 0 {
		return &l.shards[0]
	}
	return &l.shards[maphash.String(l.seed, key)&l.mask]
}

func (l *localMap) get(key string) *entry {
	s := l.shard(key)
	s.mu.RLock()
	e := s.m[key]
	s.mu.RUnlock()
	return e
}

// put stores e under key, unless the entry there was created later (a
// concurrent Set won). When the shard is full it first drops a victim.
func (l *localMap) put(key string, e *entry, r *Region) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[key]; old != nil {
		if old.created <= e.created {
			s.m[key] = e
		}
		return
	}
	if len(s.m) >= l.perShard {
		s.evict(r)
	}
	s.m[key] = e
}

// evict drops one entry of a few sampled (Go map iteration starts at a
// random place): the first that is logically missing, else the oldest.
// s.mu is held.
func (s *shard) evict(r *Region) {
	now := r.m.now()
	var victim string
	oldest := int64(0)
	n := 0
	for k, e := range s.m {
		if r.classify(e.created, now) == missing {
			victim = k
			break
		}
		if n == 0 || e.created < oldest {
			victim, oldest = k, e.created
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(s.m, victim)
}

func (l *localMap) delete(key string) {
	s := l.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (l *localMap) hits() uint64 {
	var n uint64
	for i := range l.shards {
		n += l.shards[i].hits.Load()
	}
	return n
}
