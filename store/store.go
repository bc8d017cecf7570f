// Package store defines the storage contract that every beaker backend
// meets, for sessions and caches alike.
//
// A store holds opaque byte values under string keys. It never sees HTTP,
// never interprets a value, and never invents keys: callers namespace their
// keys ("session:…", "cache:<region>:…"). Each storage technology is one type
// that serves both uses (Beaker's NamespaceManager idea, dogpile's backend
// idea).
//
// [Store] is the required core. Optional capabilities are separate interfaces
// that a caller discovers with a type assertion: [Updater] (atomic
// read-modify-write, which sessions need so that concurrent requests never
// lose each other's writes), [Toucher] (extend an expiry without rewriting
// data), [Locker] (a lock that works across processes, for the cache's
// dogpile protection), [Scanner] and [Purger] (for operators' tools).
//
// The package store/storetest holds the conformance suite that checks every
// one of these contracts against a real backend. A [Driver] is how a
// backend is linked into beaker.Open: the program passes the drivers of
// the backends it uses, and pays for no other.
package store

import (
	"context"
	"errors"
	"time"
)

// Version identifies one stored state of a key: a memcached CAS id, an SQL
// version column, or a counter kept beside the value. It is opaque to
// callers, who only pass it back to [Updater.Update]. The zero Version means
// "unknown", and makes the first try of an update read before it writes.
type Version uint64

// Entry is what [Store.Get] returns for a key that is present.
type Entry struct {
	// Value is the stored bytes. The caller owns them: the store does not
	// keep or reuse the slice after returning it.
	Value []byte
	// Version identifies this state of the key, for a later conditional
	// write (see Updater). Zero when the store keeps no versions.
	Version Version
	// Expires is when the entry will expire, as far as the store knows. The
	// zero time means that it never expires or that the store cannot tell
	// (memcached cannot report a key's remaining lifetime).
	Expires time.Time
}

// Store is the core contract of a backend.
//
// Every method honours ctx: when ctx is done before the operation completes,
// the method returns an error that wraps ctx.Err(). Methods are safe for
// concurrent use.
type Store interface {
	// Get returns the entry stored under key. A missing or expired entry, or
	// one that the store cannot decode (a corrupt file, a foreign record),
	// gives found=false and err=nil: err is for system failures only (server
	// down, I/O error, context done).
	Get(ctx context.Context, key string) (e Entry, found bool, err error)

	// Set stores value under key, replacing any previous value, unconditionally.
	// A ttl of 0 means no expiry; a negative ttl is an error. The store does
	// not keep the value slice after Set returns.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// UpdateFunc computes the new value of a key from its current value. found
// is false when the key is missing or expired (cur is then nil). It may be
// called more than once for one Update (each time with a newer current
// value), so it must not have side effects beyond its return values.
//
// fn must not modify cur. The slice fn returns belongs to the store from
// then on: fn's caller must not change it.
//
// Returning a non-nil error aborts the update: nothing is written, and
// Update returns that error unchanged (so callers can use their own
// sentinels, for example to refuse to recreate a record that a concurrent
// request deleted).
type UpdateFunc func(cur []byte, found bool) (next []byte, err error)

// Updater is implemented by stores that can apply a read-modify-write
// atomically. Every built-in server-side store implements it.
type Updater interface {
	// Update atomically replaces the value under key with fn(current). The
	// write is conditional on the value not having changed since fn saw it;
	// when another writer got in between, Update reads again and calls fn
	// again, until it succeeds, fn fails, or ctx is done. No write is ever
	// lost and none is applied twice.
	//
	// last is what the caller read earlier with Get (the zero Entry if it
	// read nothing). When last.Version is not zero, a network store makes
	// its first try without reading: it calls fn(last.Value, true) and
	// writes conditionally on last.Version, so an uncontended update costs
	// one round trip. With a zero Version it reads first.
	//
	// The new value is stored with ttl (0: no expiry). Update creates the key
	// when it is missing and fn returns a value.
	Update(ctx context.Context, key string, last Entry, ttl time.Duration, fn UpdateFunc) error
}

// SharedGetter is implemented by stores that can hand out the bytes they
// hold without copying them (memstore). Sessions read through it when a
// store has it.
type SharedGetter interface {
	// GetShared is Get, except that the returned Value may be the store's
	// own bytes, shared with the store and with every other caller: the
	// caller must never modify them. The store never modifies them either
	// (a write replaces the slice), so they stay valid, and unchanged, for
	// as long as the caller keeps them. That holds too for the slice an
	// UpdateFunc returns: such a store keeps it as it is, or a copy of it,
	// and never changes it, so its caller may rely on those bytes never
	// changing.
	GetShared(ctx context.Context, key string) (e Entry, found bool, err error)
}

// Toucher is implemented by stores that can extend the expiry of an entry
// without rewriting it. Every built-in server-side store implements it.
type Toucher interface {
	// Touch sets the expiry of key to now+ttl (ttl 0: no expiry) without
	// changing its value or version. It never creates a key: for a missing
	// or expired key it returns found=false and err=nil.
	Touch(ctx context.Context, key string, ttl time.Duration) (found bool, err error)
}

// Locker is implemented by stores that offer named mutual-exclusion locks
// that hold across every process sharing the store.
//
// A lock is held through a [Lease]. The lease lasts for the duration given
// and is renewed by the store while it is held, so a slow holder keeps it;
// when the holder's process dies the renewals stop and the lock frees itself
// once the lease runs out. Lock names live in their own namespace: a lock
// named k does not touch the value stored under k.
//
// A lease of 0 means [DefaultLease]; a negative lease is an error wrapping
// [ErrNegativeTTL]. A store may raise a short positive lease to a minimum of
// its own (sqlstore: 30 ms; memcached counts whole seconds), and a store
// whose locks die with their holder's process at once (filestore's flock)
// does not use the duration.
type Locker interface {
	// TryLock takes the lock named key if it is free and returns ok=false at
	// once if another holder has it.
	TryLock(ctx context.Context, key string, lease time.Duration) (l Lease, ok bool, err error)

	// Lock takes the lock named key, waiting while another holder has it,
	// until it is taken or ctx is done.
	Lock(ctx context.Context, key string, lease time.Duration) (Lease, error)
}

// Lease is a held lock. See [Locker].
type Lease interface {
	// Release frees the lock if this lease still holds it, and stops its
	// renewal. A lease that had already been lost (expired and perhaps
	// taken by another holder) never frees the other holder's lock: Release
	// then returns ErrLeaseLost. Calling Release twice is harmless.
	Release(ctx context.Context) error

	// Lost returns a channel that is closed once the lease no longer holds
	// the lock, or may not: when Release is called; when the store finds
	// the lock gone or taken by another holder (after the lease ran out,
	// or someone deleted it); when renewals failed (server unreachable) for
	// a whole lease; and when the store's Close stops the renewals, for a
	// store that renews leases (Redis, memcached, SQL). It never reopens.
	Lost() <-chan struct{}
}

// Scanner is implemented by stores that can list their keys, for
// operators' tools (the beaker CLI's sessions list).
type Scanner interface {
	// Scan calls fn with each live key that starts with prefix, in no
	// particular order, until fn returns an error (which Scan returns) or
	// the keys run out. Keys set or deleted during a scan may or may not be
	// seen.
	Scan(ctx context.Context, prefix string, fn func(key string) error) error
}

// Purger is implemented by stores whose expired entries take space until
// something removes them (files, SQL rows).
type Purger interface {
	// PurgeExpired removes every expired entry and reports how many it
	// removed.
	PurgeExpired(ctx context.Context) (removed int, err error)
}

// DefaultLease is the lease of a lock taken with a lease of 0 (see
// [Locker]).
const DefaultLease = 30 * time.Second

// ErrLeaseLost is returned by [Lease.Release] when the lease had expired
// before it was released.
var ErrLeaseLost = errors.New("store: lease lost")

// ErrNegativeTTL is returned by a write given a negative ttl.
var ErrNegativeTTL = errors.New("store: negative ttl")
