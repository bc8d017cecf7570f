package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Locks
//
// A memstore lock lives in this process only, so its holder is alive for as
// long as it has not released the lease: renewal is implicit. A held lease
// never runs out, which is exactly what a renewal goroutine ticking every
// lease/3 would give, without the goroutine (so Close has none to stop and a
// fake clock cannot make a live lease look expired). Only a lease whose
// holder "died", simulated with Lease.Abandon, runs out: lease after the
// abandonment, on the store's clock (Options.Now).

// lockTable holds the named locks of a Store. Its zero value is ready.
type lockTable struct {
	mu   sync.Mutex
	held map[string]*Lease // by lock name; a separate namespace from values
}

type leaseState int

const (
	leaseHeld leaseState = iota
	leaseReleased
	leaseLost
)

// Lease is a lock held in a Store; it implements store.Lease. Leases come
// from Store.TryLock and Store.Lock.
type Lease struct {
	s    *Store
	key  string
	dur  time.Duration
	lost chan struct{} // closed when the lease stops holding the lock
	dead chan struct{} // closed by Abandon

	// Guarded by s.locks.mu.
	state       leaseState
	abandoned   bool
	abandonedAt int64 // unix nanoseconds on the store's clock
}

var _ store.Lease = (*Lease)(nil)

// maxAbandonedPoll bounds how long Lock sleeps before it looks again at an
// abandoned holder, whose expiry depends on the store's (maybe fake) clock.
const maxAbandonedPoll = 50 * time.Millisecond

// TryLock implements store.Locker. lease is how long the lock outlives its
// holder once the holder stops renewing it (see Lease.Abandon); a zero lease
// means store.DefaultLease, and a negative one is an error wrapping
// store.ErrNegativeTTL.
func (s *Store) TryLock(ctx context.Context, key string, lease time.Duration) (store.Lease, bool, error) {
	lease, err := checkLock(ctx, "trylock", lease)
	if err != nil {
		return nil, false, err
	}
	t := &s.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	l, _ := s.take(key, lease)
	if l == nil {
		return nil, false, nil
	}
	return l, true, nil
}

// Lock implements store.Locker. It waits for the holder's release without
// polling; only while the holder is abandoned (a simulated dead process) does
// it look again every few milliseconds, since the lease then runs out on the
// store's clock.
func (s *Store) Lock(ctx context.Context, key string, lease time.Duration) (store.Lease, error) {
	lease, err := checkLock(ctx, "lock", lease)
	if err != nil {
		return nil, err
	}
	t := &s.locks
	for {
		t.mu.Lock()
		l, h := s.take(key, lease)
		if l != nil {
			t.mu.Unlock()
			return l, nil
		}
		var poll <-chan time.Time
		var timer *time.Timer
		dead := h.dead
		if h.abandoned {
			d := h.dur - time.Duration(s.now()-h.abandonedAt) // no sum that a long lease overflows
			d = min(max(d, time.Millisecond), maxAbandonedPoll)
			timer = time.NewTimer(d)
			poll, dead = timer.C, nil
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, fmt.Errorf("memstore: lock %q: %w", key, ctx.Err())
		case <-h.lost:
		case <-dead:
		case <-poll:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// checkLock checks a lock call's context and lease, and returns the lease
// to use: store.DefaultLease for 0.
func checkLock(ctx context.Context, op string, lease time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: %s: %w", op, err)
	}
	if lease < 0 {
		return 0, fmt.Errorf("memstore: %s: lease %v: %w", op, lease, store.ErrNegativeTTL)
	}
	if lease == 0 {
		lease = store.DefaultLease
	}
	return lease, nil
}

// take gives the lock named key to a new lease if it is free or its holder's
// lease has run out (that holder then learns it lost the lock). Otherwise it
// returns nil and the live holder. s.locks.mu is held.
func (s *Store) take(key string, lease time.Duration) (taken, holder *Lease) {
	t := &s.locks
	if h := t.held[key]; h != nil {
		if !h.expired(s.now()) {
			return nil, h
		}
		h.state = leaseLost
		close(h.lost)
	}
	if t.held == nil {
		t.held = make(map[string]*Lease)
	}
	l := &Lease{s: s, key: key, dur: lease, lost: make(chan struct{}), dead: make(chan struct{})}
	t.held[key] = l
	return l, nil
}

// expired reports whether the lease has run out. s.locks.mu is held.
func (l *Lease) expired(now int64) bool {
	return l.abandoned && now-l.abandonedAt >= int64(l.dur)
}

// Release implements store.Lease. Releasing a lease that ran out (after
// Abandon) returns store.ErrLeaseLost and leaves the lock to whoever holds it
// now. A second Release returns what the first did, and changes nothing.
func (l *Lease) Release(ctx context.Context) error {
	t := &l.s.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	switch l.state {
	case leaseReleased:
		return nil
	case leaseLost:
		return fmt.Errorf("memstore: release %q: %w", l.key, store.ErrLeaseLost)
	}
	if t.held[l.key] == l {
		delete(t.held, l.key)
	}
	close(l.lost)
	if l.expired(l.s.now()) {
		l.state = leaseLost
		return fmt.Errorf("memstore: release %q: %w", l.key, store.ErrLeaseLost)
	}
	l.state = leaseReleased
	return nil
}

// Lost implements store.Lease: the channel is closed by Release, or when
// the lease ran out after Abandon and another caller took the lock.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Abandon is for tests: it stops renewing the lease without releasing it, as
// if the holder's process had died. The lock then frees itself once the
// lease duration has passed on the store's clock. storetest.Options.Abandon
// calls it to check lease expiry.
func (l *Lease) Abandon() {
	t := &l.s.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.state != leaseHeld || l.abandoned {
		return
	}
	l.abandoned = true
	l.abandonedAt = l.s.now()
	close(l.dead)
}
