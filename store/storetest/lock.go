package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
)

// The store.Locker cases. Lock names are built with st.key like value keys,
// so they are unique to the run and to the case.

func isLocker(s store.Store) bool { _, ok := s.(store.Locker); return ok }

// longLease is the lease of cases that are not about expiry: long enough
// that no lease runs out while a slow server is busy.
const longLease = time.Minute

func (st *suite) locker() store.Locker { return st.s.(store.Locker) }

func (st *suite) mustTryLock(t *testing.T, name string, lease time.Duration) store.Lease {
	t.Helper()
	l, ok, err := st.locker().TryLock(ctx(t), name, lease)
	if err != nil {
		t.Fatalf("TryLock(%q): %v", name, err)
	}
	if !ok {
		t.Fatalf("TryLock(%q) of a free lock: ok=false", name)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

// wantHeld checks that TryLock fails because another lease holds name.
func (st *suite) wantHeld(t *testing.T, name string) {
	t.Helper()
	l, ok, err := st.locker().TryLock(ctx(t), name, longLease)
	if err != nil {
		t.Fatalf("TryLock(%q): %v", name, err)
	}
	if ok {
		_ = l.Release(context.Background())
		t.Fatalf("TryLock(%q) succeeded while another lease holds the lock", name)
	}
}

func (st *suite) mustRelease(t *testing.T, l store.Lease) {
	t.Helper()
	if err := l.Release(ctx(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (st *suite) lockExclusive(t *testing.T) {
	name := st.key(t, "lock")
	l := st.mustTryLock(t, name, longLease)
	st.wantHeld(t, name)
	st.mustTryLock(t, st.key(t, "other"), longLease) // other names are independent
	st.mustRelease(t, l)
	st.mustRelease(t, st.mustTryLock(t, name, longLease))
}

// lockMutualExclusion has 20 goroutines take one lock in turn and update a
// plain counter inside it: no two may ever be inside at once.
func (st *suite) lockMutualExclusion(t *testing.T) {
	name := st.key(t, "lock")
	const workers, rounds = 20, 5
	var inside atomic.Bool
	counter := 0 // guarded by the lock under test only
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				l, err := st.locker().Lock(context.Background(), name, longLease)
				if err != nil {
					errs <- err
					return
				}
				if !inside.CompareAndSwap(false, true) {
					errs <- errors.New("two holders inside the lock at once")
				}
				counter++
				inside.Store(false)
				if err := l.Release(context.Background()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if counter != workers*rounds {
		t.Fatalf("counter = %d, want %d", counter, workers*rounds)
	}
}

// lockReleaseByHolderOnly checks that a lease that has already been
// released cannot free the lock once another holder has it, and that a
// double Release is harmless.
func (st *suite) lockReleaseByHolderOnly(t *testing.T) {
	name := st.key(t, "lock")
	first := st.mustTryLock(t, name, longLease)
	st.mustRelease(t, first)
	if err := first.Release(ctx(t)); err != nil {
		t.Fatalf("second Release of a released lease: %v, want nil", err)
	}
	second := st.mustTryLock(t, name, longLease)
	_ = first.Release(ctx(t)) // a stale lease: must not free second's lock
	st.wantHeld(t, name)
	if isClosed(second.Lost()) {
		t.Fatal("the holder's Lost() closed when an old lease was released")
	}
	st.mustRelease(t, second)
}

func (st *suite) lockWaitsForRelease(t *testing.T) {
	name := st.key(t, "lock")
	holder := st.mustTryLock(t, name, longLease)
	type result struct {
		l   store.Lease
		err error
	}
	got := make(chan result, 1)
	go func() {
		l, err := st.locker().Lock(ctx(t), name, longLease)
		got <- result{l, err}
	}()
	select {
	case r := <-got:
		if r.l != nil {
			_ = r.l.Release(context.Background())
		}
		t.Fatalf("Lock returned (err %v) while another lease held the lock", r.err)
	default:
	}
	st.mustRelease(t, holder)
	r := <-got
	if r.err != nil {
		t.Fatalf("Lock after the holder released: %v", r.err)
	}
	st.wantHeld(t, name)
	st.mustRelease(t, r.l)
}

func (st *suite) lockContextCanceled(t *testing.T) {
	name := st.key(t, "lock")
	holder := st.mustTryLock(t, name, longLease)

	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		l, err := st.locker().Lock(c, name, longLease)
		if l != nil {
			_ = l.Release(context.Background())
		}
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a canceled context: %v, want an error wrapping context.Canceled", err)
	}

	dl, cancel2 := context.WithTimeout(context.Background(), st.opts.TTL/3)
	defer cancel2()
	if l, err := st.locker().Lock(dl, name, longLease); !errors.Is(err, context.DeadlineExceeded) {
		if l != nil {
			_ = l.Release(context.Background())
		}
		t.Fatalf("Lock past its deadline: %v, want an error wrapping context.DeadlineExceeded", err)
	}

	gone, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, ok, err := st.locker().TryLock(gone, name, longLease); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("TryLock with a canceled context = %v, %v; want an error wrapping context.Canceled", ok, err)
	}
	st.wantHeld(t, name)
	st.mustRelease(t, holder)
	st.mustRelease(t, st.mustTryLock(t, name, longLease)) // the abandoned waits left nothing behind
}

// lockDeadHolderExpires simulates a holder whose process died (it stops
// renewing and never releases): its lock must free itself once the lease has
// run out, the dead lease must learn it lost the lock, and its late Release
// must not free the new holder's lock.
func (st *suite) lockDeadHolderExpires(t *testing.T) {
	lease := st.opts.TTL
	name := st.key(t, "lock")
	dead := st.mustTryLock(t, name, lease)
	st.opts.Abandon(dead)
	if st.opts.Advance != nil {
		st.wantHeld(t, name) // the lease has not run out yet on the fake clock
	}
	next := st.waitLock(t, name, lease)
	select {
	case <-dead.Lost():
	case <-time.After(10*lease + 3*time.Second):
		t.Fatal("the dead holder's Lost() did not close after another took its lock")
	}
	if err := dead.Release(ctx(t)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Release of an expired lease: %v, want ErrLeaseLost", err)
	}
	st.wantHeld(t, name)
	if isClosed(next.Lost()) {
		t.Fatal("the new holder's Lost() closed when the dead lease was released")
	}

	// A waiter blocked in Lock gets the lock once a dead holder's lease runs out.
	st.opts.Abandon(next)
	got := make(chan error, 1)
	go func() {
		l, err := st.locker().Lock(ctx(t), name, longLease)
		if err == nil {
			err = l.Release(context.Background())
		}
		got <- err
	}()
	if st.opts.Advance != nil {
		st.opts.Advance(lease + lease/2)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock waiting for a dead holder: %v", err)
	}
}

// lockZeroLease checks that a lease of 0 is store.DefaultLease: a dead
// holder's lock taken with it is still held a second later (longer than any
// store's shortest lease), and, on a fake clock, until DefaultLease has
// passed.
func (st *suite) lockZeroLease(t *testing.T) {
	name := st.key(t, "lock")
	dead := st.mustTryLock(t, name, 0)
	st.opts.Abandon(dead)
	if st.opts.Advance != nil {
		st.opts.Advance(store.DefaultLease - time.Second)
		st.wantHeld(t, name)
		st.opts.Advance(2 * time.Second)
		st.mustRelease(t, st.mustTryLock(t, name, longLease))
		return
	}
	// Real time: waiting out DefaultLease would take too long, so the case
	// checks the lock outlives a short wait, longer than the Options.TTL
	// the store can handle.
	time.Sleep(max(time.Second, 2*st.opts.TTL))
	st.wantHeld(t, name)
	if isClosed(dead.Lost()) {
		t.Fatal("a lease of 0 was lost a second after its holder stopped renewing it")
	}
}

// waitLock takes the lock named name, with the given lease, once its dead
// holder's lease (of the same length) has run out: at once after advancing the fake clock, or in real
// time by polling with a deadline.
func (st *suite) waitLock(t *testing.T, name string, lease time.Duration) store.Lease {
	t.Helper()
	if st.opts.Advance != nil {
		st.opts.Advance(lease + lease/2)
		return st.mustTryLock(t, name, lease)
	}
	deadline := time.Now().Add(10*lease + 3*time.Second)
	for {
		l, ok, err := st.locker().TryLock(ctx(t), name, lease)
		if err != nil {
			t.Fatalf("TryLock(%q): %v", name, err)
		}
		if ok {
			t.Cleanup(func() { _ = l.Release(context.Background()) })
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock %q is still held long after its dead holder's lease", name)
		}
		time.Sleep(lease / 10)
	}
}

// lockLiveHolderKeeps holds a lock with a short lease for more than two
// leases, in real time: the store's renewal must keep it.
func (st *suite) lockLiveHolderKeeps(t *testing.T) {
	lease := st.opts.TTL
	name := st.key(t, "lock")
	l := st.mustTryLock(t, name, lease)
	for range 5 {
		time.Sleep(lease / 2)
		st.wantHeld(t, name)
		if isClosed(l.Lost()) {
			t.Fatal("a live holder's Lost() closed while its lease was being renewed")
		}
	}
	st.mustRelease(t, l)
}

func (st *suite) lockLostOnRelease(t *testing.T) {
	l := st.mustTryLock(t, st.key(t, "lock"), longLease)
	if isClosed(l.Lost()) {
		t.Fatal("Lost() is closed while the lease is held")
	}
	st.mustRelease(t, l)
	if !isClosed(l.Lost()) {
		t.Fatal("Lost() is not closed after Release returned")
	}
}

// lockNamespace checks that a lock named k and the value stored under k do
// not affect each other.
func (st *suite) lockNamespace(t *testing.T) {
	k := st.key(t, "k")
	st.mustSet(t, k, []byte("value"), 0)
	l := st.mustTryLock(t, k, longLease)
	st.wantValue(t, k, []byte("value"))
	if err := st.s.Delete(ctx(t), k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	st.wantHeld(t, k)
	st.mustSet(t, k, []byte("new"), 0)
	st.wantHeld(t, k)
	st.mustRelease(t, l)
	st.wantValue(t, k, []byte("new"))

	free := st.key(t, "no value")
	l2 := st.mustTryLock(t, free, longLease)
	st.wantMissing(t, free)
	st.mustRelease(t, l2)
	st.wantMissing(t, free)
}
