// Package memstore is an in-process store: Beaker's "memory" type.
//
// It keeps values in a map bounded by a number of entries. When the bound is
// reached, it makes room by dropping an expired entry if there is one, and
// only otherwise the least recently used live entry, with a logged warning
// (a dropped session is a user logged out, so the bound should be set high
// enough that this never happens). A janitor goroutine removes expired
// entries in the background; Close stops it.
//
// Its data is lost when the process exits and is not shared between
// processes: use it for development, tests and single-process deployments.
package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// MaxEntries bounds the number of entries held. The default is 100000
	// (INI key session.max_entries for session stores).
	MaxEntries int

	// JanitorInterval is how often expired entries are removed in the
	// background. The default is one minute; a negative value disables the
	// janitor (expired entries are then removed only when met or when room
	// is needed).
	JanitorInterval time.Duration

	// Logger receives the warning logged when a live entry is evicted. The
	// default is slog.Default().
	Logger *slog.Logger

	// Now returns the current time. The default is time.Now; tests inject a
	// fake clock.
	Now func() time.Time
}

// DefaultMaxEntries is the entry bound used when Options.MaxEntries is zero.
const DefaultMaxEntries = 100000

// Store is an in-process store. It implements store.Store, store.Updater,
// store.Toucher, store.Scanner, store.Purger and store.Locker. Its methods are safe for
// concurrent use. Create it with New and stop it with Close.
type Store struct {
	max    int
	log    *slog.Logger
	now    func() time.Time
	stop   chan struct{}
	done   chan struct{}
	closer sync.Once

	mu      sync.Mutex
	entries map[string]*entry
	lru     entry // sentinel of a circular list, most recent after lru
	expiry  expiryHeap
	version uint64
	evicted uint64

	locks lockTable // named locks (lock.go), apart from the values
}

type entry struct {
	key        string
	value      []byte
	version    uint64
	expires    int64 // unix nanoseconds; 0: never
	prev, next *entry
	heapIndex  int // index in Store.expiry, -1 when not there
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Updater = (*Store)(nil)
	_ store.Toucher = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
	_ store.Purger  = (*Store)(nil)
	_ store.Locker  = (*Store)(nil)
)

// New returns a Store configured by opts and starts its janitor.
func New(opts Options) *Store {
	s := &Store{
		max:     opts.MaxEntries,
		log:     opts.Logger,
		now:     opts.Now,
		entries: make(map[string]*entry),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.max <= 0 {
		s.max = DefaultMaxEntries
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	interval := opts.JanitorInterval
	if interval == 0 {
		interval = time.Minute
	}
	if interval < 0 {
		close(s.done)
		return s
	}
	go s.janitor(interval)
	return s
}

// Close stops the janitor. The store stays usable; Close is idempotent.
func (s *Store) Close() error {
	s.closer.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.PurgeExpired(context.Background())
		}
	}
}

// Len reports the number of entries held, expired ones not yet removed
// included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fmt.Errorf("memstore: get: %w", err)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	e := s.live(key, now)
	if e == nil {
		s.mu.Unlock()
		return store.Entry{}, false, nil
	}
	s.moveToFront(e)
	out := store.Entry{Value: append([]byte(nil), e.value...), Version: store.Version(e.version)}
	if e.expires != 0 {
		out.Expires = time.Unix(0, e.expires)
	}
	s.mu.Unlock()
	return out, true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: set: %w", err)
	}
	if ttl < 0 {
		return fmt.Errorf("memstore: set: %w", store.ErrNegativeTTL)
	}
	now := s.now().UnixNano()
	v := append([]byte(nil), value...)
	s.mu.Lock()
	s.put(key, v, ttl, now)
	s.mu.Unlock()
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	if e := s.entries[key]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
	return nil
}

// Update implements store.Updater. fn runs under the store's lock with the
// current value, so it is called exactly once; last is not needed.
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update: %w", err)
	}
	if ttl < 0 {
		return fmt.Errorf("memstore: update: %w", store.ErrNegativeTTL)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur []byte
	e := s.live(key, now)
	if e != nil {
		cur = e.value
	}
	next, err := fn(cur, e != nil)
	if err != nil {
		return err
	}
	if next == nil {
		next = []byte{}
	}
	s.put(key, next, ttl, now) // the store owns what fn returns
	return nil
}

// Touch implements store.Toucher.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: touch: %w", err)
	}
	if ttl < 0 {
		return false, fmt.Errorf("memstore: touch: %w", store.ErrNegativeTTL)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key, now)
	if e == nil {
		return false, nil
	}
	s.setExpiry(e, ttl, now)
	s.moveToFront(e)
	return true, nil
}

// Scan implements store.Scanner. The keys are collected first, so fn may
// call the store.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: scan: %w", err)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	var keys []string
	for k, e := range s.entries {
		if strings.HasPrefix(k, prefix) && (e.expires == 0 || e.expires > now) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: scan: %w", err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// PurgeExpired implements store.Purger.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: purge: %w", err)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for len(s.expiry) > 0 && s.expiry[0].expires <= now {
		s.remove(s.expiry[0])
		n++
	}
	return n, nil
}

// live returns the unexpired entry for key, removing an expired one. s.mu
// is held.
func (s *Store) live(key string, now int64) *entry {
	e := s.entries[key]
	if e == nil {
		return nil
	}
	if e.expires != 0 && e.expires <= now {
		s.remove(e)
		return nil
	}
	return e
}

// put stores v (owned by the store) under key. s.mu is held.
func (s *Store) put(key string, v []byte, ttl time.Duration, now int64) {
	s.version++
	if e := s.entries[key]; e != nil {
		e.value = v
		e.version = s.version
		s.setExpiry(e, ttl, now)
		s.moveToFront(e)
		return
	}
	if len(s.entries) >= s.max {
		s.makeRoom(now)
	}
	e := &entry{key: key, value: v, version: s.version, heapIndex: -1}
	s.entries[key] = e
	s.setExpiry(e, ttl, now)
	s.insertFront(e)
}

// makeRoom drops one entry: the one that expires first if it has expired,
// else the least recently used. s.mu is held.
func (s *Store) makeRoom(now int64) {
	if len(s.expiry) > 0 && s.expiry[0].expires <= now {
		s.remove(s.expiry[0])
		return
	}
	victim := s.lru.prev
	if victim == &s.lru {
		return
	}
	s.evicted++
	s.log.Warn("memstore: full, evicting a live entry; raise MaxEntries",
		slog.Int("max_entries", s.max), slog.Uint64("evicted_total", s.evicted))
	s.remove(victim)
}

func (s *Store) setExpiry(e *entry, ttl time.Duration, now int64) {
	if ttl == 0 {
		e.expires = 0
		if e.heapIndex >= 0 {
			heap.Remove(&s.expiry, e.heapIndex)
		}
		return
	}
	e.expires = now + int64(ttl)
	if e.heapIndex >= 0 {
		heap.Fix(&s.expiry, e.heapIndex)
	} else {
		heap.Push(&s.expiry, e)
	}
}

func (s *Store) remove(e *entry) {
	delete(s.entries, e.key)
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	if e.heapIndex >= 0 {
		heap.Remove(&s.expiry, e.heapIndex)
	}
}

func (s *Store) insertFront(e *entry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *Store) moveToFront(e *entry) {
	if s.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	s.insertFront(e)
}

// expiryHeap orders entries with an expiry by when they expire.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
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
