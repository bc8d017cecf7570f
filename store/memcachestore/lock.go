package memcachestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/internal/leasing"
)

// Lease is a lock held in a Store; it implements store.Lease. Leases come
// from Store.TryLock and Store.Lock. While it is held, a goroutine renews it
// every third of its duration; Release, Abandon and the store's Close stop
// that goroutine.
type Lease struct {
	s     *Store
	name  string // the caller's lock name, for messages
	key   string // the memcached key
	token []byte
	dur   time.Duration
	r     *leasing.Renewal
}

var _ store.Lease = (*Lease)(nil)

func checkLock(ctx context.Context, op, name string, lease time.Duration) (time.Duration, error) {
	if lease < 0 {
		return 0, fmt.Errorf("memcachestore: %s %q: lease %v: %w", op, name, lease, store.ErrNegativeTTL)
	}
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, op, name, err)
	}
	if lease == 0 {
		lease = DefaultLease
	}
	return lease, nil
}

// TryLock implements store.Locker: one "add". A zero lease means
// DefaultLease; a negative one is an error wrapping store.ErrNegativeTTL.
// memcached keeps the lock for the lease rounded up to whole seconds, plus
// one.
func (s *Store) TryLock(ctx context.Context, name string, lease time.Duration) (store.Lease, bool, error) {
	lease, err := checkLock(ctx, "trylock", name, lease)
	if err != nil {
		return nil, false, err
	}
	l, err := s.tryLock(ctx, name, lease)
	if err != nil || l == nil {
		return nil, false, err
	}
	return l, true, nil
}

// Lock implements store.Locker. While another holder has the lock it tries
// again after a short, growing, randomised wait (at most 50ms), until it
// gets the lock or ctx is done.
func (s *Store) Lock(ctx context.Context, name string, lease time.Duration) (store.Lease, error) {
	lease, err := checkLock(ctx, "lock", name, lease)
	if err != nil {
		return nil, err
	}
	var b leasing.Backoff
	for {
		l, err := s.tryLock(ctx, name, lease)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, nil
		}
		switch err := b.Wait(ctx, s.closed); {
		case errors.Is(err, leasing.ErrClosed):
			return nil, fmt.Errorf("memcachestore: lock %q: %w", name, ErrClosed)
		case err != nil:
			return nil, fail(ctx, "lock", name, err)
		}
	}
}

// tryLock takes the lock, or returns nil when another holder has it. It
// counts itself in s.leases while it runs, so that Close, which waits for
// s.leases, does not close the client under it; a lock it takes while Close
// runs is expired at once, and it returns ErrClosed: no lease outlives
// Close.
func (s *Store) tryLock(ctx context.Context, name string, lease time.Duration) (*Lease, error) {
	if !s.enter() {
		return nil, fmt.Errorf("memcachestore: lock %q: %w", name, ErrClosed)
	}
	defer s.leases.Done()
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "lock", name, err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	l := &Lease{s: s, name: name, key: s.lockKey(name), token: []byte(hex.EncodeToString(tok[:])), dur: lease}
	start := time.Now()
	err := s.c.Add(&memcache.Item{Key: l.key, Value: l.token, Expiration: expiration(lease)})
	if errors.Is(err, memcache.ErrNotStored) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, "lock", name, err)
	}
	if s.lockTaken != nil {
		s.lockTaken()
	}
	select {
	case <-s.closed:
		if err := l.casOwn(-1); err != nil && !errors.Is(err, errNotHolder) {
			return nil, fmt.Errorf("memcachestore: lock %q: %w; expiring the lock taken meanwhile: %w", name, ErrClosed, err)
		}
		return nil, fmt.Errorf("memcachestore: lock %q: %w", name, ErrClosed)
	default:
	}
	l.r = leasing.Start(&s.leases, lease, start.Add(lease), s.closed, l.renew, l.logLost)
	return l, nil
}

// enter adds one to s.leases unless the store is closed: then Close waits
// for the matching Done. It reports whether it added.
func (s *Store) enter() bool { return leasing.Enter(&s.mu, s.closed, &s.leases) }

// errNotHolder reports that the lock key no longer holds the lease's token.
var errNotHolder = errors.New("not the holder")

// casOwn rewrites the lock key with exp if it still holds the lease's
// token: a renewal, or with exp -1 (expire at once) a release. It returns
// errNotHolder when the key is gone or holds another token.
func (l *Lease) casOwn(exp int32) error {
	for range 3 {
		it, err := l.s.c.Get(l.key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return errNotHolder
		}
		if err != nil {
			return err
		}
		if string(it.Value) != string(l.token) {
			return errNotHolder
		}
		it.Expiration = exp
		err = l.s.c.CompareAndSwap(it)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			return errNotHolder // expired in between
		case errors.Is(err, memcache.ErrCASConflict):
			continue // changed in between: look again
		default:
			return err
		}
	}
	return errNotHolder
}

// renew extends the lock if it still holds this lease's token (two round
// trips: "gets" and "cas").
func (l *Lease) renew(context.Context) (held bool, err error) {
	err = l.casOwn(expiration(l.dur))
	if errors.Is(err, errNotHolder) {
		return false, nil
	}
	return err == nil, err
}

// logLost logs why the renewal gave the lease up.
func (l *Lease) logLost(err error) {
	if err == nil {
		l.s.log.Warn("memcachestore: lock lost: another holder has it, or it expired", "lock", l.name)
		return
	}
	l.s.log.Warn("memcachestore: lock lost: cannot renew it", "lock", l.name, "err", err)
}

// Release implements store.Lease: it stops the renewal and, if the lock key
// still holds this lease's token, expires it at once with a "cas" (two round
// trips: "gets" and "cas"). If the lease had already been lost, it returns
// an error wrapping store.ErrLeaseLost and leaves the lock to its new
// holder. After a successful Release, another Release returns nil.
func (l *Lease) Release(ctx context.Context) error {
	switch l.r.BeginRelease() {
	case leasing.Released:
		return nil
	case leasing.Lost:
		return fmt.Errorf("memcachestore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "release", l.name, err)
	}
	err := l.casOwn(-1)
	if err != nil && !errors.Is(err, errNotHolder) {
		return fail(ctx, "release", l.name, err)
	}
	l.r.EndRelease(err == nil)
	if err != nil {
		return fmt.Errorf("memcachestore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	return nil
}

// Lost implements store.Lease: the channel is closed by Release, when a
// renewal finds that the lock has another holder or expired, when renewals
// failed for a whole lease, and by the store's Close.
func (l *Lease) Lost() <-chan struct{} { return l.r.Lost() }

// Abandon is for tests: it stops renewing the lease without releasing it,
// as if the holder's process had died. The lock then frees itself on the
// servers once the lease runs out, and Lost closes at that time.
// storetest.Options.Abandon calls it.
func (l *Lease) Abandon() { l.r.Abandon() }
