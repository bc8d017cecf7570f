package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Lease is a named lock held as a row of the lock table; it implements
// store.Lease. Leases come from Store.TryLock and Store.Lock.
type Lease struct {
	s     *Store
	name  []byte
	token int64
	dur   time.Duration
	lost  chan struct{} // closed when the lease no longer holds the lock
	stop  chan struct{} // closed to stop the renewal goroutine
	done  chan struct{} // closed when the renewal goroutine has returned

	mu        sync.Mutex
	deadline  time.Time // the expiry last written, on the store's clock
	abandoned bool
	isLost    bool      // lost closed because the lease ran out or was taken
	released  bool      // Release was called
	relOnce   sync.Once // the first Release; a second waits for it
	relErr    error     // what the first Release returned (set in relOnce)
}

var _ store.Lease = (*Lease)(nil)

// minLease is the shortest lease: renewal runs every third of it.
const minLease = 30 * time.Millisecond

// TryLock implements store.Locker: one statement inserts the lock's row, or
// takes over a row whose lease has run out. A zero lease means
// store.DefaultLease; a positive lease shorter than 30 ms is raised to 30 ms
// (renewal runs every third of it); a negative one is an error wrapping
// store.ErrNegativeTTL.
func (s *Store) TryLock(ctx context.Context, key string, lease time.Duration) (store.Lease, bool, error) {
	l, err := s.tryLock(ctx, "trylock", key, lease)
	if l == nil {
		return nil, false, err
	}
	return l, true, nil
}

// Lock implements store.Locker. It tries again while another holder has the
// lock, every 2 ms at first, backing off to 50 ms.
func (s *Store) Lock(ctx context.Context, key string, lease time.Duration) (store.Lease, error) {
	wait := 2 * time.Millisecond
	for {
		l, err := s.tryLock(ctx, "lock", key, lease)
		if err != nil || l != nil {
			if l == nil {
				return nil, err
			}
			return l, nil
		}
		// Jitter keeps waiters of one lock from polling in step.
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sqlstore: lock: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func (s *Store) tryLock(ctx context.Context, op, key string, lease time.Duration) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if lease < 0 {
		return nil, fmt.Errorf("sqlstore: %s: lease %v: %w", op, lease, store.ErrNegativeTTL)
	}
	// Counted in s.takes, so that Close keeps the database open until the
	// take is over (and released, if Close began meanwhile).
	s.mu.Lock()
	closed, reopens := s.closed, s.reopens
	if !closed {
		s.takes.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, ErrClosed)
	}
	defer s.takes.Done()
	if lease == 0 {
		lease = store.DefaultLease
	}
	lease = max(lease, minLease)
	l := &Lease{
		s: s, name: []byte(key), token: newVersion(), dur: lease,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	now := s.now()
	l.deadline = now.Add(lease)
	n, err := s.exec(ctx, s.q.lockTake, l.name, l.token, s.micros(l.deadline), s.micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n != 1 {
		return nil, nil
	}
	if s.lockTaken != nil {
		s.lockTaken()
	}
	s.mu.Lock()
	if s.closed { // Close began during the take
		s.mu.Unlock()
		if _, err := s.exec(context.Background(), s.q.lockRelease, l.name, l.token); err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w; releasing the lock taken meanwhile: %w", op, ErrClosed, err)
		}
		return nil, fmt.Errorf("sqlstore: %s: %w", op, ErrClosed)
	}
	if s.reopens != reopens {
		// The database was reopened since the take began: the row may
		// be in the old file, and the lease is not counted on. (In case
		// it is in the new one, it is deleted, as best it can be.)
		s.mu.Unlock()
		_, _ = s.exec(context.WithoutCancel(ctx), s.q.lockRelease, l.name, l.token)
		return nil, fmt.Errorf("sqlstore: %s: %w", op, ErrFileReplaced)
	}
	s.leases[l] = struct{}{}
	s.mu.Unlock()
	go l.renew()
	return l, nil
}

// renew extends the lease every third of its duration until it is
// released, lost or stopped.
func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.dur / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		abandoned, deadline := l.abandoned, l.deadline
		l.mu.Unlock()
		start := l.s.now()
		if !start.Before(deadline) {
			l.markLost() // ran out: renewals failed, or the holder was abandoned
			return
		}
		if abandoned {
			continue
		}
		next := start.Add(l.dur)
		if l.s.renewing != nil {
			l.s.renewing()
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		n, err := l.s.exec(ctx, l.s.q.lockRenew, l.s.micros(next), l.name, l.token)
		cancel()
		switch {
		case errors.Is(err, ErrFileReplaced):
			l.markLost() // its row was in the old file
			return
		case err != nil:
			l.s.log.Warn("sqlstore: lease renewal failed", "error", err)
		case n == 0:
			l.markLost() // the row is gone or another holder took it
			return
		default:
			l.mu.Lock()
			l.deadline = next
			l.mu.Unlock()
		}
	}
}

func (l *Lease) markLost() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.isLost && !l.released {
		l.isLost = true
		close(l.lost)
	}
	l.s.forget(l)
}

func (s *Store) forget(l *Lease) {
	s.mu.Lock()
	delete(s.leases, l)
	s.mu.Unlock()
}

// stopRenewal stops the renewal goroutine and waits for it; with lose it
// also marks the lease lost (Store.Close).
func (l *Lease) stopRenewal(lose bool) {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.done
	if lose {
		l.markLost()
	}
}

// Release implements store.Lease: it stops the renewal and deletes the
// lock's row if this lease still holds it. A lease that ran out returns
// store.ErrLeaseLost and leaves the lock to its new holder. A second
// Release returns what the first did.
func (l *Lease) Release(ctx context.Context) error {
	l.relOnce.Do(func() { l.relErr = l.release(ctx) })
	return l.relErr
}

// release is the first Release. It does not hold l.mu during the delete:
// a write that finds the database file replaced reopens it and marks the
// leases lost (markLost takes l.mu), this one included.
func (l *Lease) release(ctx context.Context) error {
	// Counted in s.takes, so that Close keeps the database open until
	// the delete is done; before the renewal is stopped, which may wait
	// for a renewal's write.
	s := l.s
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.takes.Add(1)
	}
	s.mu.Unlock()
	if closed {
		l.stopRenewal(true)
		return fmt.Errorf("sqlstore: release: %w", ErrClosed)
	}
	defer s.takes.Done()
	if s.releasing != nil {
		s.releasing()
	}
	l.stopRenewal(false)
	l.mu.Lock()
	l.released = true
	expired := !l.s.now().Before(l.deadline)
	wasLost := l.isLost
	if !l.isLost {
		l.isLost = true
		close(l.lost)
	}
	l.mu.Unlock()
	defer l.s.forget(l)
	n, err := l.s.exec(ctx, l.s.q.lockRelease, l.name, l.token)
	switch {
	case err != nil:
		return fmt.Errorf("sqlstore: release: %w", err)
	case wasLost || expired || n == 0:
		return fmt.Errorf("sqlstore: release: %w", store.ErrLeaseLost)
	}
	return nil
}

// Lost implements store.Lease. The channel closes on Release, when a
// renewal finds that another holder took the lock, when the lease runs out
// because the renewals failed (database unreachable), and on the store's
// Close.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Abandon is for tests: it stops renewing the lease without releasing it,
// as if the holder's process had died. The lock then frees itself once the
// lease has run out, and Lost closes. storetest.Options.Abandon calls it.
func (l *Lease) Abandon() {
	l.mu.Lock()
	l.abandoned = true
	l.mu.Unlock()
}
