// Package memcachestore is a store on memcached: Beaker's "ext:memcached"
// type. Keys are spread over several servers by gomemcache's hashing of the
// key (the server list's order matters: every process must list the
// servers in the same order).
//
// # Versions and updates
//
// Get returns memcached's CAS id as the entry's version. Update writes with
// "cas" against that id (one round trip when nobody wrote in between) and,
// for a missing key, with "add"; on a conflict it reads again and retries.
// memcached cannot report a key's remaining lifetime, so Entry.Expires is
// always zero.
//
// # Keys
//
// memcached keys are at most 250 bytes without spaces or control
// characters. A key that does not fit (after KeyPrefix), and any key that
// starts with "beaker:", is stored under KeyPrefix+"beaker:h:" and the
// base64url SHA-256 of the key, so every key the caller gives works and no
// two collide.
//
// # Expiry
//
// memcached counts whole seconds on a coarse clock, so a ttl is rounded up
// to whole seconds plus one: an entry never expires before its ttl, and at
// most about two seconds after it. A ttl over 30 days is sent as an absolute
// Unix time, as memcached requires.
//
// # Locks
//
// A lock named k is the key KeyPrefix+"beaker:lock:"+k, taken with "add"
// and a random token, renewed every third of the lease with a "cas" that
// succeeds only while the key still holds the token, and released by a
// "cas" that expires the key at once, so that only the holder ever frees
// it (memcached has no compare-and-delete).
//
// # Limits
//
// memcached cannot list its keys: the store does not implement
// store.Scanner. A value larger than the server's item size limit (1 MiB by
// default, memcached -I) fails with an error wrapping ErrValueTooLarge.
//
// gomemcache takes no context: every call is bounded by Options.Timeout
// instead, and a done context is checked before each call and between the
// tries of Update and Lock.
package memcachestore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Store. The zero value is ready to use. Timeout and
// MaxIdleConns apply only when the store makes its own client (Open,
// Driver); New uses the client it is given as it is.
type Options struct {
	// KeyPrefix is prepended to every memcached key the store uses, so that
	// several applications can share the servers. The default is "".
	// INI key: session.memcached.key_prefix (cache.memcached.key_prefix).
	KeyPrefix string

	// MaxItemSize is the servers' item size limit (memcached -I): a write
	// whose value and key would not fit fails with ErrValueTooLarge before
	// anything is sent. The default is 1 MiB, memcached's default; -1
	// leaves the check to the server (whose refusal also gives
	// ErrValueTooLarge). INI key: session.memcached.max_item_size.
	MaxItemSize int

	// Logger receives the store's logs (lost leases). The default is
	// slog.Default().
	Logger *slog.Logger

	// Timeout bounds the dial, each read and each write of one call. The
	// default is 2s (session.store_timeout when the settings give one);
	// gomemcache's own default, 500ms, gives spurious errors under load.
	Timeout time.Duration

	// MaxIdleConns is how many idle connections are kept per server. It
	// should be at least the number of concurrent requests: beyond it,
	// every call dials a new connection. The default is 64 (gomemcache's is
	// 2). INI key: session.memcached.max_idle_conns.
	MaxIdleConns int
}

// Defaults of Options.
const (
	DefaultTimeout      = 2 * time.Second
	DefaultMaxIdleConns = 64
	DefaultMaxItemSize  = 1 << 20
	// DefaultLease is the lease given to a lock taken with a zero lease:
	// store.DefaultLease.
	DefaultLease = store.DefaultLease
)

// itemOverhead approximates memcached's per-item header (it counts against
// the item size limit together with the key and the value).
const itemOverhead = 64

// Errors.
var (
	// ErrValueTooLarge is wrapped by a write whose value does not fit in
	// a memcached item.
	ErrValueTooLarge = errors.New("memcachestore: value larger than the memcached item size limit")
	// ErrInvalidURL is wrapped by the errors of ParseServers, and of Open
	// for a server list that ParseServers refuses.
	ErrInvalidURL = errors.New("memcachestore: invalid server list")
	// ErrInvalidOptions is wrapped by the errors of New, Open and
	// OptionsFromConfig for a bad option.
	ErrInvalidOptions = errors.New("memcachestore: invalid setting")
	// ErrClosed is returned by the lock methods of a closed Store.
	ErrClosed = errors.New("memcachestore: store closed")
)

// Store is a store on one or more memcached servers. It implements
// store.Store, store.Updater, store.Toucher and store.Locker, and is safe
// for concurrent use. Close stops its lease renewals.
type Store struct {
	c       *memcache.Client
	owned   bool
	prefix  string
	maxItem int
	log     *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	mu        sync.Mutex     // orders enter against Close's close(closed)
	leases    sync.WaitGroup // lock takes in flight and renewal goroutines

	lockTaken func() // a test's hook: called by tryLock once it took a lock
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Updater = (*Store)(nil)
	_ store.Toucher = (*Store)(nil)
	_ store.Locker  = (*Store)(nil)
)

// New returns a Store that uses client. The caller keeps ownership of the
// client. It fails, wrapping ErrInvalidOptions, when KeyPrefix is not a
// valid part of a memcached key or is too long.
func New(client *memcache.Client, opts Options) (*Store, error) {
	return newStore(client, false, opts)
}

// Open parses servers (see ParseServers) and returns a Store with its own
// client, configured by opts. It resolves the servers' host names (the
// client keeps their addresses), so a name that does not resolve fails
// with an error wrapping the resolver's (a *net.DNSError), but it does not
// connect to the servers.
func Open(servers string, opts Options) (*Store, error) {
	addrs, err := ParseServers(servers)
	if err != nil {
		return nil, err
	}
	ss := new(memcache.ServerList)
	if err := ss.SetServers(addrs...); err != nil {
		return nil, fmt.Errorf("memcachestore: resolving the servers: %w", err)
	}
	c := memcache.NewFromSelector(ss)
	c.Timeout = opts.Timeout
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.MaxIdleConns = opts.MaxIdleConns
	if c.MaxIdleConns <= 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	return newStore(c, true, opts)
}

func newStore(c *memcache.Client, owned bool, opts Options) (*Store, error) {
	if !legalKey(opts.KeyPrefix) || len(opts.KeyPrefix) > 100 {
		return nil, fmt.Errorf("%w: key prefix %q: at most 100 bytes, without spaces or control characters",
			ErrInvalidOptions, opts.KeyPrefix)
	}
	s := &Store{c: c, owned: owned, prefix: opts.KeyPrefix, maxItem: opts.MaxItemSize, log: opts.Logger,
		closed: make(chan struct{})}
	if s.maxItem == 0 {
		s.maxItem = DefaultMaxItemSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Client returns the store's memcached client.
func (s *Store) Client() *memcache.Client { return s.c }

// Close stops the renewal of every lease still held (their Lost channels
// close; the locks free themselves when their leases run out) and, when the
// store made its client (Open), closes its idle connections. A TryLock or
// Lock in flight returns an error wrapping ErrClosed, having expired the
// lock if it took it, and Close waits for it. Calling Close again returns
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closed)
		s.mu.Unlock()
		s.leases.Wait() // lock takes in flight give up their lock
		if s.owned {
			s.closeErr = s.c.Close()
		}
	})
	return s.closeErr
}

// Key namespaces inside KeyPrefix.
const (
	nsReserved   = "beaker:"
	nsHashed     = "beaker:h:"
	nsLock       = "beaker:lock:"
	nsLockHashed = "beaker:lockh:"
)

func legalKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] == 0x7f {
			return false
		}
	}
	return true
}

func hashKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// key maps a caller's key to a memcached key (see the package doc).
func (s *Store) key(k string) string {
	full := s.prefix + k
	if len(full) <= 250 && legalKey(k) && !strings.HasPrefix(k, nsReserved) {
		return full
	}
	return s.prefix + nsHashed + hashKey(k)
}

func (s *Store) lockKey(name string) string {
	full := s.prefix + nsLock + name
	if len(full) <= 250 && legalKey(name) {
		return full
	}
	return s.prefix + nsLockHashed + hashKey(name)
}

// expiration converts a ttl to memcached's exptime: whole seconds, rounded
// up, plus one for the server's coarse clock; an absolute Unix time past
// 30 days, and at most the last one an int32 holds (2038: memcached's own
// limit), for a longer ttl.
func expiration(ttl time.Duration) int32 {
	if ttl <= 0 {
		return 0
	}
	secs := int64(ttl / time.Second) // rounded up below: ttl+time.Second-1 overflows for the longest ttls
	if ttl%time.Second != 0 {
		secs++
	}
	secs++
	if secs > 30*24*60*60 {
		secs += time.Now().Unix()
	}
	return int32(min(secs, math.MaxInt32))
}

// fail wraps err for operation op on key; when ctx is done it also wraps
// ctx.Err().
func fail(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("memcachestore: %s %q: %w (%w)", op, key, cerr, err)
	}
	if err != nil && strings.Contains(err.Error(), "object too large") {
		return fmt.Errorf("memcachestore: %s %q: %w (server: %w)", op, key, ErrValueTooLarge, err)
	}
	return fmt.Errorf("memcachestore: %s %q: %w", op, key, err)
}

// check validates a write before any call.
func (s *Store) check(ctx context.Context, op, key, mkey string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memcachestore: %s %q: ttl %v: %w", op, key, ttl, store.ErrNegativeTTL)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, key, err)
	}
	if s.maxItem > 0 && len(value)+len(mkey)+itemOverhead > s.maxItem {
		return fmt.Errorf("memcachestore: %s %q: %d bytes: %w (%d bytes with key and item header)",
			op, key, len(value), ErrValueTooLarge, s.maxItem)
	}
	return nil
}

// Get implements store.Store: one "gets". Expires is always zero.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fail(ctx, "get", key, err)
	}
	it, err := s.c.Get(s.key(key))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return store.Entry{}, false, nil
	}
	if err != nil {
		return store.Entry{}, false, fail(ctx, "get", key, err)
	}
	v := it.Value
	if v == nil {
		v = []byte{}
	}
	return store.Entry{Value: v, Version: store.Version(it.CasID)}, true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	k := s.key(key)
	if err := s.check(ctx, "set", key, k, value, ttl); err != nil {
		return err
	}
	if err := s.c.Set(&memcache.Item{Key: k, Value: value, Expiration: expiration(ttl)}); err != nil {
		return fail(ctx, "set", key, err)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "delete", key, err)
	}
	if err := s.c.Delete(s.key(key)); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return fail(ctx, "delete", key, err)
	}
	return nil
}

// Update implements store.Updater: "cas" on the version of last (one round
// trip without contention), "add" for a missing key, and on a conflict a
// new "gets" and another try.
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	k := s.key(key)
	if err := s.check(ctx, "update", key, k, nil, ttl); err != nil {
		return err
	}
	var (
		cur   []byte
		cas   uint64
		found bool
	)
	if last.Version != 0 {
		cur, cas, found = last.Value, uint64(last.Version), true
	} else {
		e, f, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		cur, cas, found = e.Value, uint64(e.Version), f
	}
	exp := expiration(ttl)
	for {
		if !found {
			cur = nil
		}
		next, err := fn(cur, found)
		if err != nil {
			return err
		}
		if err := s.check(ctx, "update", key, k, next, ttl); err != nil {
			return err
		}
		it := &memcache.Item{Key: k, Value: next, Expiration: exp, CasID: cas}
		if found {
			err = s.c.CompareAndSwap(it)
		} else {
			err = s.c.Add(it)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored),
			errors.Is(err, memcache.ErrCacheMiss):
			// Someone wrote, deleted or added in between: read again.
		default:
			return fail(ctx, "update", key, err)
		}
		if err := ctx.Err(); err != nil {
			return fail(ctx, "update", key, err)
		}
		e, f, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		cur, cas, found = e.Value, uint64(e.Version), f
	}
}

// Touch implements store.Toucher with memcached's "touch". It never creates
// a key.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		return false, fmt.Errorf("memcachestore: touch %q: ttl %v: %w", key, ttl, store.ErrNegativeTTL)
	}
	if err := ctx.Err(); err != nil {
		return false, fail(ctx, "touch", key, err)
	}
	err := s.c.Touch(s.key(key), expiration(ttl))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false, nil
	}
	if err != nil {
		return false, fail(ctx, "touch", key, err)
	}
	return true, nil
}
