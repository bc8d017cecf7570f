// Package cache provides Beaker cache regions with dogpile.cache semantics:
// named regions over any beaker store, a get-or-create that computes each
// value once under concurrency, serving of stale values while one caller
// regenerates, cluster-wide invalidation and typed memoization.
//
// # Regions and Beaker's INI keys
//
// A Manager holds named regions, each a RegionOptions. beaker.Open maps
// Beaker's keys (read by the settings package) onto them; every key may be
// set for all regions as cache.<key> or for one as cache.<region>.<key>:
//
//	cache.regions     the region names                 Options.Regions
//	cache.type        memory, file, ext:redis, …       RegionOptions.Store (nil for memory)
//	cache.url         server address(es)               the Store's own options
//	cache.data_dir    file backend directory           the Store's own options
//	cache.lock_dir    file backend lock directory      the Store's own options
//	cache.expire      seconds a value stays fresh      RegionOptions.Expire
//	cache.enabled     false turns the region off       RegionOptions.Disabled
//	cache.key_length  longest key before hashing       RegionOptions.KeyLength
//	cache.max_entries bound on a memory region         RegionOptions.MaxEntries
//	cache.round_trip  true: memory values go through   RegionOptions.RoundTrip
//	                  the codec (dogpile memory_pickle)
//
// # Values: one rule for every region
//
// A value reads back as what its JSON encoding (encoding/json, the codec)
// decodes into, in the type the read asks for (the T of Get, GetOrCreate,
// a Memo):
//
//   - Set(42) then Get[int64], Get[int] or Get[float64] hit with 42;
//     Get[string] misses. A value that does not decode into T is a miss
//     (GetOrCreate then runs its creator and stores the new value).
//   - Only what JSON carries survives: exported fields (and json tags),
//     not unexported ones; an interface type (Get[any]) gets JSON's types
//     (float64, map[string]any, …).
//   - Each read gets its own copy; GetOrCreate's callers, the one whose
//     creator ran included, get a copy of what was stored.
//   - Set of a value the codec cannot encode (a channel, a func, NaN) fails;
//     a creator's such value is returned but not cached (and logged).
//
// A region with a Store follows the rule by construction: it stores the
// value as JSON inside an envelope that records its creation time and a
// format version (another version is a miss). A memory region with
// RoundTrip (INI round_trip = true) follows it too, keeping the encoding
// and decoding each read: use it in tests and development to meet, on
// memory, the behaviour of Redis or memcached (dogpile's memory_pickle).
//
// A plain memory region (the default, dogpile's memory) keeps the Go value
// itself so that a hit costs no allocation, and departs from the rule only
// where it returns that value: when it is a T, a read gets the stored value
// as it is, shared between callers (do not modify it), unexported fields
// and all, and Get[any] gets its dynamic type; and Set does not check that
// the value can be encoded. When the stored value is not a T, the read
// converts it through the codec as the rule says (Set(42), then Get[int64]
// hits with 42, at the cost of an encoding and a decoding).
//
// # Expiry
//
// Expiry is logical: a value
// is fresh until Expire after its creation, then stale; the backend keeps it
// for Expire+Grace (its physical TTL), so that a stale value can be served
// by any process while one caller regenerates it.
//
// # GetOrCreate: the dogpile state machine
//
// GetOrCreate (and Memo1/Memo2, built on it) does, for a key:
//
//   - fresh: return it.
//   - missing or hard-invalidated: exactly one creator runs and every caller
//     waits for its result. In-process, callers of one key share one run; a
//     caller's context ends only its own wait, and the run's context is
//     cancelled when all its callers have gone. Across processes, when the
//     Store implements store.Locker (memstore, and the network stores that
//     provide it), the run takes the lock <prefix><key> (with Lock, waiting,
//     and a lease the store renews while the creator runs), then reads the
//     store again, since another process may have created the value
//     meanwhile. A Store without a Locker gets in-process deduplication
//     only: each process may then run its own creator for a key.
//   - stale or soft-invalidated: one caller regenerates (the in-process run,
//     plus TryLock across processes) and the others, here and elsewhere, are
//     served the stale value at once.
//   - creator error: nothing is cached; the error, wrapped so that errors.Is
//     sees it, goes to the callers waiting for that run, and the next call
//     runs the creator again.
//
// # Invalidation
//
// Delete (or a Memo's Invalidate) removes one key. Region.Invalidate
// invalidates a whole region: hard makes every existing value missing, soft
// makes it stale. A remote region keeps these times in its backend under
// <prefix>__generation__ and re-reads the record at most every
// GenerationInterval, so an invalidation reaches every process sharing the
// backend within that interval. A record that is missing (never written, or
// evicted, or flushed) counts as an invalidation at the time it is found
// missing, never as "never invalidated": the region then writes a new record
// with that time. A brand-new region therefore starts by invalidating
// whatever older values the backend holds under its prefix.
//
// # Memory regions
//
// A region without a Store is a memory region (Beaker's type = memory): a
// sharded map in this process, bounded by MaxEntries, that keeps Go values
// (or, with RoundTrip, their encodings; see Values). A hit takes no lock
// and costs no allocation: it walks an immutable bucket chain behind an
// atomic pointer (writers take their shard's lock and publish new chains),
// adds to a hit counter striped by goroutine so that cores do not share
// one, and reads the time from a coarse clock, an atomic updated every
// millisecond by a goroutine. The clock starts on the first read, stops
// after about a second without reads (an idle program burns no CPU; the
// next read calls time.Now and restarts it), and Manager.Close stops it
// for good. A test's Options.Now replaces it. A memory region lives in one
// process, so its invalidations are local too.
//
// # Statistics
//
// Region.Stats returns counters of hits, misses, stale values served,
// creator runs and errors, and waits for another caller's creator.
package cache
