package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/internal/leasing"
)

// lockNamespace separates lock keys from value keys.
const lockNamespace = "beaker:lock:"

// renewScript extends the lock KEYS[1] to ARGV[2] ms if it still holds the
// token ARGV[1]; it returns 1 if it did.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockScript deletes the lock KEYS[1] if it still holds the token ARGV[1];
// it returns 1 if it did.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lease is a lock held in a Store; it implements store.Lease. Leases come
// from Store.TryLock and Store.Lock. While it is held, a goroutine renews it
// every third of its duration; Release, Abandon and the store's Close stop
// that goroutine.
type Lease struct {
	s     *Store
	name  string // the caller's lock name, for messages
	key   string // the Redis key
	token string
	dur   time.Duration
	r     *leasing.Renewal
}

var _ store.Lease = (*Lease)(nil)

func (s *Store) lockKey(name string) string { return s.prefix + lockNamespace + name }

func checkLock(ctx context.Context, op, name string, lease time.Duration) (time.Duration, error) {
	if lease < 0 {
		return 0, fmt.Errorf("redisstore: %s %q: lease %v: %w", op, name, lease, store.ErrNegativeTTL)
	}
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, op, name, err)
	}
	if lease == 0 {
		lease = DefaultLease
	}
	return lease, nil
}

// TryLock implements store.Locker: one SET NX PX. A zero lease means
// DefaultLease; a negative one is an error wrapping store.ErrNegativeTTL.
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
			return nil, fmt.Errorf("redisstore: lock %q: %w", name, ErrClosed)
		case err != nil:
			return nil, fail(ctx, "lock", name, err)
		}
	}
}

// tryLock takes the lock, or returns nil when another holder has it. It
// counts itself in s.leases while it runs, so that Close, which waits for
// s.leases, does not close the client under it; a lock it takes while Close
// runs is deleted at once, and it returns ErrClosed: no lease outlives
// Close.
func (s *Store) tryLock(ctx context.Context, name string, lease time.Duration) (*Lease, error) {
	if !s.enter() {
		return nil, fmt.Errorf("redisstore: lock %q: %w", name, ErrClosed)
	}
	defer s.leases.Done()
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	l := &Lease{s: s, name: name, key: s.lockKey(name), token: hex.EncodeToString(tok[:]), dur: lease}
	start := time.Now()
	ok, err := s.c.SetNX(ctx, l.key, l.token, time.Duration(millis(lease))*time.Millisecond).Result()
	if err != nil {
		return nil, fail(ctx, "lock", name, err)
	}
	if !ok {
		return nil, nil
	}
	if s.lockTaken != nil {
		s.lockTaken()
	}
	select {
	case <-s.closed:
		// Not on ctx: a caller whose context ended just after the take
		// would leave the lock held until its lease ran out. The
		// client's own timeouts bound the call.
		if err := unlockScript.Run(context.WithoutCancel(ctx), s.c, []string{l.key}, l.token).Err(); err != nil {
			return nil, fmt.Errorf("redisstore: lock %q: %w; deleting the lock taken meanwhile: %w", name, ErrClosed, err)
		}
		return nil, fmt.Errorf("redisstore: lock %q: %w", name, ErrClosed)
	default:
	}
	l.r = leasing.Start(&s.leases, lease, start.Add(lease), s.closed, l.renew, l.logLost)
	return l, nil
}

// enter adds one to s.leases unless the store is closed: then Close waits
// for the matching Done. It reports whether it added.
func (s *Store) enter() bool { return leasing.Enter(&s.mu, s.closed, &s.leases) }

// renew extends the lock if it still holds this lease's token (one script
// call).
func (l *Lease) renew(ctx context.Context) (held bool, err error) {
	n, err := renewScript.Run(ctx, l.s.c, []string{l.key}, l.token, millis(l.dur)).Int64()
	return n == 1, err
}

// logLost logs why the renewal gave the lease up.
func (l *Lease) logLost(err error) {
	if err == nil {
		l.s.log.Warn("redisstore: lock lost: another holder has it", "lock", l.name)
		return
	}
	l.s.log.Warn("redisstore: lock lost: cannot renew it", "lock", l.name, "err", err)
}

// Release implements store.Lease: it stops the renewal and deletes the lock
// if it still holds this lease's token (one script call). If the lease had
// already been lost, it returns an error wrapping store.ErrLeaseLost and
// leaves the lock to its new holder. After a successful Release, another
// Release returns nil. When the server cannot be reached, Release returns
// that error, and the lock frees itself when its lease runs out.
func (l *Lease) Release(ctx context.Context) error {
	switch l.r.BeginRelease() {
	case leasing.Released:
		return nil
	case leasing.Lost:
		return fmt.Errorf("redisstore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "release", l.name, err)
	}
	n, err := unlockScript.Run(ctx, l.s.c, []string{l.key}, l.token).Int64()
	if err != nil {
		return fail(ctx, "release", l.name, err)
	}
	l.r.EndRelease(n == 1)
	if n != 1 {
		return fmt.Errorf("redisstore: release %q: %w", l.name, store.ErrLeaseLost)
	}
	return nil
}

// Lost implements store.Lease: the channel is closed by Release, when a
// renewal finds that the lock has another holder, when renewals failed for a
// whole lease, and by the store's Close.
func (l *Lease) Lost() <-chan struct{} { return l.r.Lost() }

// Abandon is for tests: it stops renewing the lease without releasing it,
// as if the holder's process had died. The lock then frees itself on the
// server once the lease runs out, and Lost closes at that time.
// storetest.Options.Abandon calls it.
func (l *Lease) Abandon() { l.r.Abandon() }
