package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobeaker/beaker/store"
)

// generationName is the key, after the prefix, of a region's invalidation
// record. A user key equal to it is hashed, so it cannot collide.
const generationName = "__generation__"

// Region is a named cache region: a backend, an expiry and invalidation
// state. Get one from Manager.Region. Its methods, and the functions of
// this package that take a *Region, are safe for concurrent use.
type Region struct {
	m        *Manager
	name     string
	prefix   string
	disabled bool
	expire   int64 // nanoseconds; 0: never
	phys     int64 // physical lifetime, Expire+Grace, in nanoseconds; 0: no TTL
	keyLen   int
	lease    time.Duration

	local  *localMap     // memory region; nil when st is set
	encode bool          // values are kept encoded: a remote or RoundTrip region
	st     store.Store   // remote region
	locker store.Locker  // st's Locker, or nil
	upd    store.Updater // st's Updater, or nil
	genKey string

	// Invalidation: a value created at or before hard is missing, one
	// created at or before soft is stale. soft >= hard always.
	hard, soft atomic.Int64
	// Generation re-reads of a remote region.
	genMu       sync.Mutex
	genChecked  atomic.Int64 // when the record was last read; 0: never
	genInterval int64
	// The region's first read of the record, which callers wait for;
	// genFirst guards genFlight.
	genFirst  sync.Mutex
	genFlight *genRead

	// The read-mostly fields above stay off the lines that reads and
	// runs write.
	_ [64]byte

	seq atomic.Uint64 // incremented each time a flight ends, under its shard's lock

	_ [64]byte

	// The creator runs under way, in shards by key, so that the reads of
	// many stale keys (after a soft invalidation) do not all take one
	// lock to find that a run is under way for theirs.
	fseed   maphash.Seed
	flights [flightShards]flightShard

	// hits, misses and staleServed: every read of an enabled region adds
	// to exactly one (a read of a stale value to staleServed);
	// creatorRuns: every call of a disabled region adds to it alone.
	hits, misses, creatorRuns, staleServed striped
	creatorErrors, lockWaits               atomic.Uint64
}

// flightShards is the number of shards of a region's creator runs (a
// power of two).
const flightShards = 16

// flightShard is one shard of a region's creator runs.
type flightShard struct {
	mu sync.Mutex
	m  map[string]*flight // made on first use; guarded by mu
	_  [64 - 8 - 8]byte
}

// flightShard returns the shard of key's creator runs.
func (r *Region) flightShard(key string) *flightShard {
	return &r.flights[maphash.String(r.fseed, key)&(flightShards-1)]
}

func newRegion(m *Manager, o RegionOptions) (*Region, error) {
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: region %q: %s %v is negative", ErrInvalidOptions, o.Name, field, v)
	}
	switch {
	case o.Expire < 0:
		return nil, bad("Expire", o.Expire)
	case o.KeyLength < 0:
		return nil, bad("KeyLength", o.KeyLength)
	case o.LockLease < 0:
		return nil, bad("LockLease", o.LockLease)
	case o.GenerationInterval < 0:
		return nil, bad("GenerationInterval", o.GenerationInterval)
	case o.MaxEntries < 0:
		return nil, bad("MaxEntries", o.MaxEntries)
	}
	r := &Region{
		m:           m,
		name:        o.Name,
		prefix:      o.Prefix,
		disabled:    o.Disabled,
		expire:      int64(o.Expire),
		keyLen:      o.KeyLength,
		lease:       o.LockLease,
		st:          o.Store,
		genInterval: int64(o.GenerationInterval),
		fseed:       maphash.MakeSeed(),
	}
	if r.prefix == "" {
		r.prefix = "cache:" + o.Name + ":"
	}
	if r.keyLen == 0 {
		r.keyLen = DefaultKeyLength
	}
	if r.lease == 0 {
		r.lease = DefaultLockLease
	}
	if r.genInterval == 0 {
		r.genInterval = int64(DefaultGenerationInterval)
	}
	if o.Expire > 0 {
		grace := o.Grace
		if grace == 0 {
			grace = min(o.Expire/2, maxDefaultGrace)
		}
		// Expire + grace, saturated: a sum past the longest Duration
		// would wrap negative and expire every value at once.
		r.phys = int64(o.Expire) + min(int64(max(grace, 0)), math.MaxInt64-int64(o.Expire))
	}
	if r.st == nil {
		maxEntries := o.MaxEntries
		if maxEntries == 0 {
			maxEntries = DefaultMaxEntries
		}
		r.local = newLocalMap(maxEntries)
		r.encode = o.RoundTrip
	} else {
		r.encode = true
		r.locker, _ = r.st.(store.Locker)
		r.upd, _ = r.st.(store.Updater)
		r.genKey = r.prefix + generationName
	}
	return r, nil
}

// Name returns the region's name.
func (r *Region) Name() string { return r.name }

// Local reports whether r is a memory region, whose values live in this
// process only (RegionOptions.Store was nil).
func (r *Region) Local() bool { return r.local != nil }

// Stats are a region's counters since its Manager was created.
type Stats struct {
	Hits          uint64 // fresh values served
	Misses        uint64 // lookups that found no usable value (missing, hard-invalidated, undecodable), and stale values whose regeneration the call waited for
	StaleServed   uint64 // stale values served while another caller regenerated them
	CreatorRuns   uint64 // creator calls
	CreatorErrors uint64 // creator calls that failed (or panicked)
	LockWaits     uint64 // callers that waited for another's creator, in this process or across processes
}

// Stats returns the region's counters.
func (r *Region) Stats() Stats {
	s := Stats{
		Hits:          r.hits.load(),
		Misses:        r.misses.load(),
		StaleServed:   r.staleServed.load(),
		CreatorRuns:   r.creatorRuns.load(),
		CreatorErrors: r.creatorErrors.Load(),
		LockWaits:     r.lockWaits.Load(),
	}
	return s
}

// state is what a lookup found.
type state int

const (
	missing state = iota
	stale
	fresh
)

// classify tells whether a value created at created is fresh, stale or
// (logically) missing at now.
func (r *Region) classify(created, now int64) state {
	if created <= r.hard.Load() {
		return missing
	}
	if r.phys != 0 && now-created >= r.phys {
		return missing
	}
	if created <= r.soft.Load() || (r.expire != 0 && now-created >= r.expire) {
		return stale
	}
	return fresh
}

// isFresh is classify(created, now) == fresh, for the hit path: soft >= hard,
// and phys >= expire.
func (r *Region) isFresh(created, now int64) bool {
	return created > r.soft.Load() && (r.expire == 0 || now-created < r.expire)
}

// stamp returns the creation time for a value whose creation starts now: the
// current time, but always after the last invalidation this process knows
// of, so that a value made after an Invalidate within the same clock tick
// (or on a clock behind the invalidator's) is not invalidated with the old.
func (r *Region) stamp() int64 {
	return max(r.m.preciseNow(), r.soft.Load()+1)
}

// storeKey returns the backend key of a user key: prefix+key, hashed when
// longer than KeyLength (as Beaker does), when it would be the generation
// record's key, or when it has the form of a hash itself (64 lowercase hex
// digits), so that no key kept as is can be the hashed key of another.
func (r *Region) storeKey(key string) string {
	if len(r.prefix)+len(key) > r.keyLen || key == generationName || isHashForm(key) {
		sum := sha256.Sum256([]byte(key))
		return r.prefix + hex.EncodeToString(sum[:])
	}
	return r.prefix + key
}

// isHashForm reports whether key looks like what storeKey makes of a
// hashed key: the lowercase hex of a SHA-256 sum.
func isHashForm(key string) bool {
	if len(key) != 2*sha256.Size {
		return false
	}
	for i := range len(key) {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Get returns the fresh value stored under key in r, as a T (see "Values"
// in the package documentation: a value of another type is converted
// through the codec). A missing, stale or invalidated value, or one that
// does not decode into a T, gives found=false. err reports backend
// failures and ctx.
func Get[T any](ctx context.Context, r *Region, key string) (v T, found bool, err error) {
	if r.disabled {
		return v, false, nil
	}
	v, st, err := lookup[T](ctx, r, key)
	if err != nil {
		r.misses.add() // a read that found no value it could use
		return v, false, err
	}
	if st != fresh {
		r.misses.add()
		var zero T
		return zero, false, nil
	}
	r.hits.add()
	return v, true, nil
}

// lookup reads key and classifies what it found.
func lookup[T any](ctx context.Context, r *Region, key string) (T, state, error) {
	if r.local != nil {
		return lookupLocal[T](ctx, r, key)
	}
	return lookupRemote[T](ctx, r, key)
}

// lookupLocal is lookup on a memory region. Kept apart from lookupRemote,
// its frame stays small: a goroutine that calls GetOrCreate on a fresh
// stack does not have to grow it.
func lookupLocal[T any](ctx context.Context, r *Region, key string) (T, state, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, missing, fmt.Errorf("cache: region %q: get %q: %w", r.name, key, err)
	}
	e := r.local.get(key)
	if e == nil {
		return zero, missing, nil
	}
	st := r.classify(e.created, r.m.now())
	if st == missing {
		return zero, missing, nil
	}
	if e.enc == nil {
		if v, ok := e.value.(T); ok {
			return v, st, nil
		}
	}
	v, ok := decodeAs[T](e.enc, e.value)
	if !ok {
		return zero, missing, nil
	}
	return v, st, nil
}

// lookupRemote is lookup on a region backed by a store.
func lookupRemote[T any](ctx context.Context, r *Region, key string) (T, state, error) {
	var zero T
	if err := r.syncGeneration(ctx); err != nil {
		return zero, missing, err
	}
	ent, found, err := r.st.Get(ctx, r.storeKey(key))
	if err != nil {
		return zero, missing, fmt.Errorf("cache: region %q: get %q: %w", r.name, key, err)
	}
	if !found {
		return zero, missing, nil
	}
	created, payload, ok := decodeEnvelope(ent.Value)
	if !ok {
		return zero, missing, nil
	}
	st := r.classify(created, r.m.now())
	if st == missing {
		return zero, missing, nil
	}
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		return zero, missing, nil
	}
	return v, st, nil
}

// Set stores value under key in r, as created now. A remote or RoundTrip
// region encodes it with encoding/json (an error wrapping the encoder's if
// it cannot); a plain memory region keeps it as is, so the caller must not
// modify it afterwards. Set on a disabled region does nothing.
func (r *Region) Set(ctx context.Context, key string, value any) error {
	if r.disabled {
		return nil
	}
	if err := r.ready(ctx); err != nil {
		return err
	}
	_, err := r.write(ctx, key, value, r.stamp())
	return err
}

// decodeAs returns the value of a T that enc (the codec's encoding of a
// value), or else v encoded, decodes into: the conversion that a region
// with a Store makes on every read.
func decodeAs[T any](enc []byte, v any) (T, bool) {
	var out T
	if enc == nil {
		var err error
		if enc, err = json.Marshal(v); err != nil {
			return out, false
		}
	}
	if err := json.Unmarshal(enc, &out); err != nil {
		var zero T
		return zero, false
	}
	return out, true
}

// ready makes sure that a remote region has read its invalidation record
// (as due), so that stamp() is after the invalidations in force.
func (r *Region) ready(ctx context.Context) error {
	if r.local != nil {
		return nil
	}
	return r.syncGeneration(ctx)
}

// write stores value under key with the given creation time. It returns
// the codec's encoding of value when the region encodes (enc is not to be
// modified), else nil.
func (r *Region) write(ctx context.Context, key string, value any, created int64) (enc []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cache: region %q: set %q: %w", r.name, key, err)
	}
	if r.local != nil {
		e := &entry{value: value, created: created}
		if r.encode {
			if e.enc, err = json.Marshal(value); err != nil {
				return nil, fmt.Errorf("cache: region %q: set %q: %w", r.name, key, err)
			}
			e.value = nil
		}
		r.local.put(key, e, r)
		return e.enc, nil
	}
	b, err := encodeEnvelope(created, value)
	if err != nil {
		return nil, fmt.Errorf("cache: region %q: set %q: %w", r.name, key, err)
	}
	if err := r.st.Set(ctx, r.storeKey(key), b, time.Duration(r.phys)); err != nil {
		return nil, fmt.Errorf("cache: region %q: set %q: %w", r.name, key, err)
	}
	return b[envelopeHeader:len(b):len(b)], nil
}

// Delete removes key from r (per-key invalidation: the next GetOrCreate
// runs its creator). Deleting a missing key is not an error; Delete on a
// disabled region does nothing.
func (r *Region) Delete(ctx context.Context, key string) error {
	if r.disabled {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cache: region %q: delete %q: %w", r.name, key, err)
	}
	if r.local != nil {
		r.local.delete(key)
		return nil
	}
	if err := r.st.Delete(ctx, r.storeKey(key)); err != nil {
		return fmt.Errorf("cache: region %q: delete %q: %w", r.name, key, err)
	}
	return nil
}

// Mode says how Region.Invalidate invalidates: Hard or Soft (dogpile's
// region.invalidate(hard=True/False)). It is a bool underneath, so an
// older call written r.Invalidate(ctx, true) still compiles.
type Mode bool

const (
	// Hard makes the values missing: the next GetOrCreate of each key
	// waits for its creator.
	Hard Mode = true
	// Soft makes the values stale: one caller regenerates each while the
	// others are served the old value.
	Soft Mode = false
)

// Invalidate invalidates every value in r created until now, Hard or Soft
// (dogpile's region.invalidate(hard)):
//
//	r.Invalidate(ctx, cache.Hard)
//
// For a region with a Store the invalidation is written to the backend,
// and other processes sharing it apply it within their GenerationInterval.
func (r *Region) Invalidate(ctx context.Context, mode Mode) error {
	hard := mode == Hard
	if r.disabled {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cache: region %q: invalidate: %w", r.name, err)
	}
	if err := r.ready(ctx); err != nil {
		return err
	}
	now := r.stamp() // after every value stamped so far, even on a stopped clock
	g := generation{Soft: now}
	if hard {
		g.Hard = now
	}
	if r.local == nil {
		if err := r.writeGeneration(ctx, g); err != nil {
			return err
		}
		r.genChecked.Store(max(r.m.now(), 1))
	}
	r.apply(g)
	return nil
}

// generation is a region's invalidation record, as stored in its backend.
type generation struct {
	V    int   `json:"v"`
	Hard int64 `json:"hard"` // unix nanoseconds
	Soft int64 `json:"soft"`
}

const generationVersion = 1

func decodeGeneration(b []byte) (generation, bool) {
	var g generation
	if err := json.Unmarshal(b, &g); err != nil || g.V != generationVersion {
		return generation{}, false
	}
	return g, true
}

func (g generation) merge(o generation) generation {
	return generation{V: generationVersion, Hard: max(g.Hard, o.Hard), Soft: max(g.Soft, o.Soft, g.Hard, o.Hard)}
}

// apply raises the region's invalidation times to g's.
func (r *Region) apply(g generation) {
	raise := func(a *atomic.Int64, v int64) {
		for {
			cur := a.Load()
			if v <= cur || a.CompareAndSwap(cur, v) {
				return
			}
		}
	}
	raise(&r.soft, max(g.Soft, g.Hard)) // soft first: soft >= hard at all times
	raise(&r.hard, g.Hard)
}

// writeGeneration merges g into the backend's record.
func (r *Region) writeGeneration(ctx context.Context, g generation) error {
	g.V = generationVersion
	var err error
	if r.upd != nil {
		err = r.upd.Update(ctx, r.genKey, store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) {
			next := g
			if old, ok := decodeGeneration(cur); found && ok {
				next = old.merge(g)
			}
			return json.Marshal(next)
		})
	} else {
		next := g.merge(generation{Hard: r.hard.Load(), Soft: r.soft.Load()})
		b, _ := json.Marshal(next)
		err = r.st.Set(ctx, r.genKey, b, 0)
	}
	if err != nil {
		return fmt.Errorf("cache: region %q: write generation: %w", r.name, err)
	}
	return nil
}

var errGenerationFound = errors.New("generation found")

// syncGeneration re-reads the region's invalidation record when it was
// last read GenerationInterval ago or more. The first read makes every
// caller wait (see firstGeneration); later ones are done by one caller
// while the others go on with the record they have.
//
// A missing (or undecodable) record counts as an invalidation now, whether
// it was never written or has been evicted or flushed: the region writes a
// new record with hard = soft = now. A backend that lost the record may
// have lost an invalidation with it, so "missing" can never mean "never
// invalidated".
func (r *Region) syncGeneration(ctx context.Context) error {
	now := r.m.now()
	checked := r.genChecked.Load()
	if checked != 0 && now-checked < r.genInterval {
		return nil
	}
	if checked == 0 {
		return r.firstGeneration(ctx, now)
	}
	if !r.genMu.TryLock() {
		return nil // another caller is re-reading it
	}
	defer r.genMu.Unlock()
	if r.genChecked.Load() != checked {
		return nil // re-read meanwhile
	}
	return r.readGeneration(ctx, checked, now)
}

// genRead is a first read of a region's invalidation record that callers
// wait for; err is set before done is closed.
type genRead struct {
	done chan struct{}
	err  error
	// cancelled: the read failed because its caller's context ended,
	// which says nothing of the backend.
	cancelled bool
}

// firstGeneration reads the record for the first time, or waits, as long
// as ctx allows, for the read under way: until the region knows its
// invalidations, no caller may use a stored value. The callers that wait
// share the read's outcome, so that a backend down since the start costs
// them one failed read together, not one after another; the next caller
// tries again. A read that failed because its caller gave up is tried
// again by those still waiting.
func (r *Region) firstGeneration(ctx context.Context, now int64) error {
	for {
		r.genFirst.Lock()
		if r.genChecked.Load() != 0 {
			r.genFirst.Unlock()
			return nil
		}
		f := r.genFlight
		if f == nil {
			f = &genRead{done: make(chan struct{}), cancelled: true}
			r.genFlight = f
			r.genFirst.Unlock()
			defer func() {
				// Also when the store panics: the waiters then read again
				// (cancelled stays true), rather than wait for ever.
				r.genFirst.Lock()
				r.genFlight = nil
				r.genFirst.Unlock()
				close(f.done)
			}()
			f.err = r.readGeneration(ctx, 0, now)
			f.cancelled = f.err != nil && ctx.Err() != nil
			return f.err
		}
		r.genFirst.Unlock()
		select {
		case <-f.done:
			if !f.cancelled {
				return f.err
			}
		case <-ctx.Done():
			return fmt.Errorf("cache: region %q: read generation: %w", r.name, ctx.Err())
		}
		now = r.m.now()
	}
}

// readGeneration reads the record, last read at checked (0: never), and
// applies it.
func (r *Region) readGeneration(ctx context.Context, checked, now int64) error {
	ent, found, err := r.st.Get(ctx, r.genKey)
	if err != nil {
		if checked == 0 {
			return fmt.Errorf("cache: region %q: read generation: %w", r.name, err)
		}
		r.m.log.Warn("cache: cannot re-read the region's generation; keeping the last one",
			slog.String("region", r.name), slog.Any("err", err))
		r.genChecked.Store(now) // try again in an interval, not on every read
		return nil
	}
	g, ok := decodeGeneration(ent.Value)
	if !found || !ok {
		g, err = r.recreateGeneration(ctx, checked != 0)
		if err != nil {
			return err
		}
	}
	r.apply(g)
	r.genChecked.Store(max(now, 1))
	return nil
}

// recreateGeneration writes a record invalidating everything until now, if
// the backend (still) has none, and returns the record in force.
func (r *Region) recreateGeneration(ctx context.Context, seen bool) (generation, error) {
	now := r.m.preciseNow()
	g := generation{V: generationVersion, Hard: now, Soft: now}
	level := slog.LevelDebug
	if seen {
		level = slog.LevelWarn
	}
	r.m.log.Log(ctx, level, "cache: generation record missing; invalidating the region",
		slog.String("region", r.name), slog.String("key", r.genKey))
	if r.upd == nil {
		b, _ := json.Marshal(g)
		if err := r.st.Set(ctx, r.genKey, b, 0); err != nil {
			return g, fmt.Errorf("cache: region %q: write generation: %w", r.name, err)
		}
		return g, nil
	}
	var existing generation
	err := r.upd.Update(ctx, r.genKey, store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) {
		if old, ok := decodeGeneration(cur); found && ok {
			existing = old // another process wrote one meanwhile: adopt it
			return nil, errGenerationFound
		}
		return json.Marshal(g)
	})
	switch {
	case errors.Is(err, errGenerationFound):
		return existing, nil
	case err != nil:
		return g, fmt.Errorf("cache: region %q: write generation: %w", r.name, err)
	}
	return g, nil
}
