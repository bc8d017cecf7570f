package memcachestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gobeaker/beaker/store"
)

// maxLockPoll bounds the wait between two tries of Lock while the lock is
// held by someone else.
const maxLockPoll = 50 * time.Millisecond

type leaseState int

const (
	leaseHeld leaseState = iota
	leaseReleased
	leaseLost
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

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{} // closed by Release
	stopOnce sync.Once
	abandon  chan struct{} // closed by Abandon
	abanOnce sync.Once
	done     chan struct{} // closed when the renewal goroutine returns

	mu    sync.Mutex
	state leaseState
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
	wait := 2 * time.Millisecond
	for {
		l, err := s.tryLock(ctx, name, lease)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, nil
		}
		t := time.NewTimer(wait/2 + mrand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fail(ctx, "lock", name, ctx.Err())
		case <-s.closed:
			t.Stop()
			return nil, fmt.Errorf("memcachestore: lock %q: %w", name, ErrClosed)
		case <-t.C:
		}
		wait = min(2*wait, maxLockPoll)
	}
}

func (s *Store) tryLock(ctx context.Context, name string, lease time.Duration) (*Lease, error) {
	select {
	case <-s.closed:
		return nil, fmt.Errorf("memcachestore: lock %q: %w", name, ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "lock", name, err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	l := &Lease{
		s: s, name: name, key: s.lockKey(name), token: []byte(hex.EncodeToString(tok[:])), dur: lease,
		lost: make(chan struct{}), stop: make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{}),
	}
	start := time.Now()
	err := s.c.Add(&memcache.Item{Key: l.key, Value: l.token, Expiration: expiration(lease)})
	if errors.Is(err, memcache.ErrNotStored) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, "lock", name, err)
	}
	s.leases.Add(1)
	go l.renew(start.Add(lease))
	return l, nil
}

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

// renew runs while the lease is held. expires is when the lease runs out
// on the server at the earliest, as far as this process knows.
func (l *Lease) renew(expires time.Time) {
	defer l.s.leases.Done()
	defer close(l.done)
	tick := time.NewTicker(l.dur / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.s.closed:
			l.markLost()
			return
		case <-l.abandon:
			t := time.NewTimer(time.Until(expires))
			defer t.Stop()
			select {
			case <-t.C:
				l.markLost()
			case <-l.stop:
			case <-l.s.closed:
				l.markLost()
			}
			return
		case <-tick.C:
		}
		start := time.Now()
		err := l.casOwn(expiration(l.dur))
		switch {
		case err == nil:
			expires = start.Add(l.dur)
		case errors.Is(err, errNotHolder):
			l.s.log.Warn("memcachestore: lock lost: another holder has it, or it expired", "lock", l.name)
			l.markLost()
			return
		case !time.Now().Before(expires):
			l.s.log.Warn("memcachestore: lock lost: cannot renew it", "lock", l.name, "err", err)
			l.markLost()
			return
		}
	}
}

func (l *Lease) markLost() {
	l.mu.Lock()
	if l.state == leaseHeld {
		l.state = leaseLost
	}
	l.mu.Unlock()
	l.lostOnce.Do(func() { close(l.lost) })
}

// Release implements store.Lease: it stops the renewal and, if the lock key
// still holds this lease's token, expires it at once with a "cas" (two round
// trips: "gets" and "cas"). If the lease had already been lost, it returns
// an error wrapping store.ErrLeaseLost and leaves the lock to its new
// holder. After a successful Release, another Release returns nil.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	state := l.state
	l.mu.Unlock()
	switch state {
	case leaseReleased:
		return nil
	case leaseLost:
		return fmt.Errorf("memcachestore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.lostOnce.Do(func() { close(l.lost) })
	if err := ctx.Err(); err != nil {
		return fail(ctx, "release", l.name, err)
	}
	err := l.casOwn(-1)
	if err != nil && !errors.Is(err, errNotHolder) {
		return fail(ctx, "release", l.name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.state = leaseLost
		return fmt.Errorf("memcachestore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	l.state = leaseReleased
	return nil
}

// Lost implements store.Lease: the channel is closed by Release, when a
// renewal finds that the lock has another holder or expired, when renewals
// failed for a whole lease, and by the store's Close.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Abandon is for tests: it stops renewing the lease without releasing it,
// as if the holder's process had died. The lock then frees itself on the
// servers once the lease runs out, and Lost closes at that time.
// storetest.Options.Abandon calls it.
func (l *Lease) Abandon() { l.abanOnce.Do(func() { close(l.abandon) }) }
