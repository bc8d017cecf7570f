package filestore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Lease is a named lock held through flock; it implements store.Lease.
// Leases come from Store.TryLock and Store.Lock.
//
// A flock lock has no timed expiry: it is held until Release or until the
// holder's process ends (the kernel then frees it at once, whatever the
// lease duration). It is never lost while its process lives, so Lost closes
// on Release only.
type Lease struct {
	name string
	lost chan struct{}

	mu sync.Mutex
	fd int // the locked file; -1 once released
}

var _ store.Lease = (*Lease)(nil)

// TryLock implements store.Locker. The lease duration is not used (0, or
// any positive duration, gives the same lock): see Lease. A negative lease
// is an error wrapping store.ErrNegativeTTL.
func (s *Store) TryLock(ctx context.Context, key string, lease time.Duration) (store.Lease, bool, error) {
	l, ok, err := s.lock(ctx, "trylock", key, lease, false)
	if !ok {
		return nil, false, err
	}
	return l, true, nil
}

// Lock implements store.Locker. While another holder has the lock it polls
// (every 0.5 ms at first, backing off to 20 ms), since flock(2) cannot wait
// with a deadline.
func (s *Store) Lock(ctx context.Context, key string, lease time.Duration) (store.Lease, error) {
	l, _, err := s.lock(ctx, "lock", key, lease, true)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *Store) lock(ctx context.Context, op, key string, lease time.Duration, wait bool) (*Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("filestore: %s: %w", op, err)
	}
	if lease < 0 {
		return nil, false, fmt.Errorf("filestore: %s: lease %v: %w", op, lease, store.ErrNegativeTTL)
	}
	fd, ok, err := lockFile(ctx, s.lockPath(s.lay.lock(key)), wait)
	if err != nil {
		return nil, false, fmt.Errorf("filestore: %s: %w", op, err)
	}
	if !ok {
		return nil, false, nil
	}
	return &Lease{name: key, fd: fd, lost: make(chan struct{})}, true, nil
}

// Release implements store.Lease: it unlocks and closes the lock file. A
// second Release does nothing.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return nil
	}
	unlockFile(l.fd)
	l.fd = -1
	close(l.lost)
	return nil
}

// Lost implements store.Lease. The channel closes when Release is called.
func (l *Lease) Lost() <-chan struct{} { return l.lost }
