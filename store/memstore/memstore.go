// Package memstore is an in-process store: Beaker's "memory" type.
//
// # Bounds
//
// A Store is bounded twice: by a number of entries (Options.MaxEntries,
// default 100,000) and by bytes (Options.MaxBytes, default 256 MiB, counting
// each entry's key, value and about 128 bytes of bookkeeping). A value that
// alone would take more than the share of MaxBytes that one shard holds (see
// below; at least 4 MiB, or MaxBytes when that is smaller) is refused with
// ErrValueTooLarge, and the stored value stays as it was.
//
// # Eviction
//
// When a write takes the store over a bound, it makes room. Expired entries
// go first, without a word. Only when none is left does it evict live
// entries, and then it chooses them by how often they were used, not only
// how recently: the policy is W-TinyLFU (the one of Caffeine and otter). A
// count-min sketch estimates how many times each key was used lately (its
// counts are halved periodically, so old popularity fades; it grows with
// the store, up to a word per entry of the bound, keeping every count as
// it grows, so an empty store does not hold one sized for 100,000). A new entry
// enters a small LRU window (1% of the entries); when it leaves the window
// of a full store, it is admitted to the main space only if it was used more
// often than the main space's coldest entry, which it then replaces;
// otherwise the newcomer is the one evicted. The main space is a segmented
// LRU: an entry used again after it got in is protected (80% of the main
// space) from entries used once. Within the window and the protected
// space, a use marks the entry rather than moving it to the front of its
// list, and the list passes over a marked entry once, moving it then, when
// it looks for its least recently used one (CLOCK's second chance): a read
// writes no list link, so reads on many cores do not bounce the lists'
// lines between them. A read still takes its shard's lock and counts the
// use in the shard's sketch (one 64-byte block and the sketch's addition
// count): those lines the shard's reads do share. CLOCK is an
// approximation of LRU; on the Zipf workloads of TestHitRatio it hit as
// often as exact LRU did when it replaced it (a measurement, not a test).
//
// So a flood of one-hit entries (anonymous visitors, each given a new
// session) evicts other one-hit entries and leaves alone a session that was
// used a dozen times, even one that has been idle for a while, where plain
// LRU would evict it. The flip side: while the store is full of entries that
// are each used once, a new entry has to be used a few times while it is in
// the window to be kept. Evicting a live session logs a user out, so each
// eviction of a live entry is counted, and a warning is logged (at most once
// a minute on the store's clock, with the count); set the bounds so that it
// does not happen in normal use.
//
// # Concurrency
//
// Keys are spread by hash over shards (up to 256, at least 16 when the
// bounds allow it, fewer for small bounds so that each shard holds at least
// 256 entries and 4 MiB), each with its own lock, bounds (its share of
// MaxEntries and MaxBytes) and eviction policy. Reads and writes of
// different shards never wait for each other. Update does not hold any lock
// while its function runs: it reads the value and its version, calls the
// function, and writes only if the version is still the same, else it tries
// again (after 8 conflicts on one key it runs the function under the
// shard's lock, so that it cannot starve).
//
// Values are never modified in place: Get returns a copy, Set stores a copy,
// and Update hands its function the stored slice, which no one changes.
//
// A janitor goroutine removes expired entries in the background; Close stops
// it.
//
// Its data is lost when the process exits and is not shared between
// processes: use it for development, tests and single-process deployments.
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// MaxEntries bounds the number of entries held. The default is 100000
	// (INI key session.max_entries for session stores).
	MaxEntries int

	// MaxBytes bounds the memory that entries take, counting each entry's
	// key and value bytes plus about 128 bytes of bookkeeping. The default
	// is DefaultMaxBytes, 256 MiB (INI key session.max_bytes for session
	// stores).
	MaxBytes int64

	// JanitorInterval is how often expired entries are removed in the
	// background. The default is one minute; a negative value disables the
	// janitor (expired entries are then removed only when met or when room
	// is needed). No INI key.
	JanitorInterval time.Duration

	// Logger receives the warning logged when live entries are evicted. The
	// default is slog.Default().
	Logger *slog.Logger

	// Now returns the current time. The default is the system clock, read
	// as the wall time at New plus the monotonic time elapsed since (so a
	// step of the wall clock does not move expiries); tests inject a fake
	// clock.
	Now func() time.Time
}

// DefaultMaxEntries is the entry bound used when Options.MaxEntries is zero.
const DefaultMaxEntries = 100000

// DefaultMaxBytes is the byte bound used when Options.MaxBytes is zero:
// 256 MiB. It is far above what the default entry bound takes with ordinary
// sessions (100,000 sessions of 1 KiB take about 110 MiB), so it does not
// bind in normal use; it is there for big records, which the entry bound
// alone would let grow to gigabytes (100,000 sessions at the session
// layer's 256 KiB record limit would be 25 GiB).
const DefaultMaxBytes = 256 << 20

// ErrValueTooLarge is returned by Set and Update for a value that exceeds
// what one shard may hold (see the package doc); nothing is written.
var ErrValueTooLarge = errors.New("memstore: value too large for the store's byte bound")

// warnEvery is the least time between two warnings about evicted live
// entries, on the store's clock.
const warnEvery = time.Minute

// maxOptimisticTries is how many times Update runs its function outside any
// lock before it runs it under the shard's lock.
const maxOptimisticTries = 8

// Shard sizing: each shard holds at least this much of each bound.
const (
	minShardEntries = 256
	minShardBytes   = 4 << 20
	maxShards       = 256
)

// Store is an in-process store. It implements store.Store, store.Updater,
// store.Toucher, store.Scanner, store.Purger and store.Locker. Its methods
// are safe for concurrent use. Create it with New and stop it with Close.
type Store struct {
	maxEntries int
	maxBytes   int64
	log        *slog.Logger
	now        func() int64 // unix nanoseconds
	seed       maphash.Seed
	shift      uint // a key's shard is its hash >> shift
	shards     []shard

	// The fields above, read by every call, stay off the line that
	// evictions write.
	_ [64]byte

	evicted  atomic.Uint64 // live entries evicted, in all
	warned   atomic.Uint64 // evicted when the last warning was logged
	lastWarn atomic.Int64  // unix nanoseconds of the last warning

	stop   chan struct{}
	done   chan struct{}
	closer sync.Once

	locks lockTable // named locks (lock.go), apart from the values
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
		maxEntries: opts.MaxEntries,
		maxBytes:   opts.MaxBytes,
		log:        opts.Logger,
		seed:       maphash.MakeSeed(),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if s.maxEntries <= 0 {
		s.maxEntries = DefaultMaxEntries
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if clock := opts.Now; clock != nil {
		s.now = func() int64 { return clock().UnixNano() }
	} else {
		// The wall clock at New plus the monotonic time since: one clock
		// read per call instead of time.Now's two, and expiry that wall
		// clock steps do not move.
		start := time.Now()
		wall := start.UnixNano()
		s.now = func() int64 { return wall + int64(time.Since(start)) }
	}
	s.lastWarn.Store(math.MinInt64)
	n := shardCount(s.maxEntries, s.maxBytes, runtime.GOMAXPROCS(0))
	s.shift = 64 - uint(bits.TrailingZeros(uint(n)))
	s.shards = make([]shard, n)
	for i := range s.shards {
		// Spread the remainders so that the shards' bounds add up exactly.
		e := s.maxEntries / n
		if i < s.maxEntries%n {
			e++
		}
		b := s.maxBytes / int64(n)
		if int64(i) < s.maxBytes%int64(n) {
			b++
		}
		s.shards[i].init(e, b)
	}
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

// shardCount returns a power of two: 8 per core, between 16 and 256, halved
// while a shard would hold less than minShardEntries or minShardBytes.
func shardCount(maxEntries int, maxBytes int64, procs int) int {
	n := 16
	for n < 8*procs && n < maxShards {
		n *= 2
	}
	for n > 1 && (maxEntries/n < minShardEntries || maxBytes/int64(n) < minShardBytes) {
		n /= 2
	}
	return n
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
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// Bytes reports the memory that the entries held take, as counted for
// Options.MaxBytes (keys, values and bookkeeping), expired entries not yet
// removed included.
func (s *Store) Bytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}

// Evicted reports how many live (unexpired) entries were evicted to keep
// the store within its bounds since it was created.
func (s *Store) Evicted() uint64 { return s.evicted.Load() }

func (s *Store) shardOf(key string) (*shard, uint64) {
	h := maphash.String(s.seed, key)
	return &s.shards[h>>s.shift&uint64(len(s.shards)-1)], h
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	e, found, err := s.GetShared(ctx, key)
	if found {
		e.Value = append([]byte(nil), e.Value...)
	}
	return e, found, err
}

// GetShared implements store.SharedGetter: Get without the copy. The
// bytes are the entry's own, never modified in place.
func (s *Store) GetShared(ctx context.Context, key string) (store.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fmt.Errorf("memstore: get: %w", err)
	}
	now := s.now()
	sh, _ := s.shardOf(key)
	sh.mu.Lock()
	e := sh.live(key, now)
	if e == nil {
		sh.mu.Unlock()
		return store.Entry{}, false, nil
	}
	sh.access(e)
	v, ver, exp := e.value, e.version, e.expires
	sh.mu.Unlock()
	// v is never modified in place: a write replaces the slice.
	out := store.Entry{Value: v, Version: store.Version(ver)}
	if exp != 0 {
		out.Expires = time.Unix(0, exp)
	}
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
	sh, h := s.shardOf(key)
	if err := s.checkSize(sh, key, value, "set"); err != nil {
		return err
	}
	v := append([]byte{}, value...)
	now := s.now()
	sh.mu.Lock()
	evicted := sh.put(key, h, sh.live(key, now), v, expiry(now, ttl), now)
	sh.mu.Unlock()
	s.noteEvicted(evicted, now)
	return nil
}

func (s *Store) checkSize(sh *shard, key string, value []byte, op string) error {
	if c := cost(key, value); c > sh.maxBytes {
		return fmt.Errorf("memstore: %s %q: %d bytes, more than the %d bytes one shard may hold: %w",
			op, key, c, sh.maxBytes, ErrValueTooLarge)
	}
	return nil
}

// expiry is when an entry written at now with ttl expires (0: never); a
// ttl past the last time an int64 holds (about 2262) is kept until then.
func expiry(now int64, ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	if now > math.MaxInt64-int64(ttl) { // ttl > 0: no overflow, whatever now's sign
		return math.MaxInt64
	}
	if now == -int64(ttl) {
		return 1 // the epoch, a nanosecond late: 0 is "never"
	}
	return now + int64(ttl)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	sh, _ := s.shardOf(key)
	sh.mu.Lock()
	if e := sh.entries[key]; e != nil {
		sh.remove(e)
	}
	sh.mu.Unlock()
	return nil
}

// Update implements store.Updater. It holds no lock while fn runs: it
// reads the current value and version, calls fn, and writes only if the
// version has not changed meanwhile; otherwise it calls fn again with the
// newer value. After 8 such conflicts it calls fn under the lock of the
// key's shard, so that an update cannot starve; fn must therefore not call
// the store.
//
// When last came from GetShared (its Value is the store's own, non-empty
// slice), the first try skips the read: it calls fn(last.Value, true), and
// writes only if the key still holds that very slice at last.Version. A
// key's versions are never reused, and the slice is its own, so this is
// the stored value, not a copy the caller owns (whose bytes the store must
// not keep) nor another key's entry (versions are per shard: keys in two
// shards may share one). Otherwise the first try reads, as the others do.
//
// fn receives the stored slice itself, which nobody modifies (fn must not
// either); the store takes ownership of the slice fn returns.
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	if ttl < 0 {
		return fmt.Errorf("memstore: update: %w", store.ErrNegativeTTL)
	}
	sh, h := s.shardOf(key)
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: update: %w", err)
		}
		now := s.now()
		var cur []byte
		var ver uint64
		found := true
		fast := try == 0 && last.Version != 0 && len(last.Value) > 0
		if fast {
			cur, ver = last.Value, uint64(last.Version)
		} else {
			sh.mu.Lock()
			e := sh.live(key, now)
			found = e != nil
			if found {
				cur, ver = e.value, e.version
			}
			if try >= maxOptimisticTries {
				evicted, err := s.updateLocked(sh, key, h, e, ttl, now, fn)
				sh.mu.Unlock()
				s.noteEvicted(evicted, now)
				return err
			}
			sh.mu.Unlock()
		}

		next, err := fn(cur, found)
		if err != nil {
			return err
		}
		next = owned(next)
		if err := s.checkSize(sh, key, next, "update"); err != nil {
			return err
		}

		// The write uses the time of the read: the update takes effect as
		// of then, and it saves reading the clock again.
		sh.mu.Lock()
		e := sh.live(key, now)
		if (e != nil) != found || (e != nil && e.version != ver) || (fast && !sameSlice(e.value, cur)) {
			sh.mu.Unlock() // another write got in between, or last was not ours: try again
			continue
		}
		evicted := sh.put(key, h, e, next, expiry(now, ttl), now)
		sh.mu.Unlock()
		s.noteEvicted(evicted, now)
		return nil
	}
}

// sameSlice reports whether a and b are the same bytes: the same address
// and length.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// updateLocked runs fn and writes its result with sh.mu held; e is what
// live(key) returned under this hold.
func (s *Store) updateLocked(sh *shard, key string, h uint64, e *entry, ttl time.Duration, now int64, fn store.UpdateFunc) (int, error) {
	var cur []byte
	if e != nil {
		cur = e.value
	}
	next, err := fn(cur, e != nil)
	if err != nil {
		return 0, err
	}
	next = owned(next)
	if err := s.checkSize(sh, key, next, "update"); err != nil {
		return 0, err
	}
	return sh.put(key, h, e, next, expiry(now, ttl), now), nil
}

// owned returns the value an UpdateFunc returned as the store keeps it:
// non-nil, and copied when its capacity holds much more than its length
// (a record that shrank, in the buffer of its larger self), because the
// store charges the length against its byte bound and must not keep more
// memory alive than that.
func owned(next []byte) []byte {
	switch {
	case next == nil:
		return []byte{}
	case cap(next)-len(next) > len(next)/4+64:
		return bytes.Clone(next)
	}
	return next
}

// Touch implements store.Toucher. A touch counts as a use of the entry for
// eviction.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: touch: %w", err)
	}
	if ttl < 0 {
		return false, fmt.Errorf("memstore: touch: %w", store.ErrNegativeTTL)
	}
	now := s.now()
	sh, _ := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.live(key, now)
	if e == nil {
		return false, nil
	}
	sh.setExpiry(e, expiry(now, ttl))
	sh.access(e)
	return true, nil
}

// Scan implements store.Scanner. The keys of each shard are collected
// first, so fn may call the store.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	var keys []string
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: scan: %w", err)
		}
		now := s.now()
		sh := &s.shards[i]
		keys = keys[:0]
		sh.mu.Lock()
		for k, e := range sh.entries {
			if strings.HasPrefix(k, prefix) && (e.expires == 0 || e.expires > now) {
				keys = append(keys, k)
			}
		}
		sh.mu.Unlock()
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memstore: scan: %w", err)
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// PurgeExpired implements store.Purger.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	n := 0
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("memstore: purge: %w", err)
		}
		now := s.now()
		sh := &s.shards[i]
		for more := true; more; {
			var k int
			sh.mu.Lock()
			k, more = sh.purge(now)
			sh.mu.Unlock()
			n += k
		}
	}
	return n, nil
}

// noteEvicted counts n live entries evicted and logs a warning if none was
// logged in the last warnEvery. It runs without any shard lock held.
func (s *Store) noteEvicted(n int, now int64) {
	if n == 0 {
		return
	}
	total := s.evicted.Add(uint64(n))
	last := s.lastWarn.Load()
	if last != math.MinInt64 && now-last < int64(warnEvery) {
		return
	}
	if !s.lastWarn.CompareAndSwap(last, now) {
		return // another goroutine logs this one
	}
	since := total - s.warned.Swap(total)
	s.log.Warn("memstore: full, evicting live entries (sessions logged out); raise MaxEntries or MaxBytes",
		slog.Int("max_entries", s.maxEntries), slog.Int64("max_bytes", s.maxBytes),
		slog.Uint64("evicted", since), slog.Uint64("evicted_total", total))
}
