package storetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
)

// ClosingLocker is a Locker that a test can pause while it takes a lock,
// for LockTakenDuringClose.
type ClosingLocker interface {
	store.Locker
	io.Closer
}

// LockTakenDuringClose checks that a lock whose take is in flight when
// Close begins does not outlive Close, even when the caller's context ends
// at that moment: TryLock then fails with an error wrapping errClosed and
// holds nothing, Close returns after it, and another store on the same
// backend (from other) can take the lock at once. pause must make s call its argument once it has taken a lock on
// the server, before it starts the lease; closing must be closed once s's
// Close has begun. The check closes s.
func LockTakenDuringClose(t *testing.T, s ClosingLocker, pause func(f func()), closing <-chan struct{}, other func() store.Locker, errClosed error) {
	t.Helper()
	closed := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	pause(func() {
		go func() { closed <- s.Close() }()
		<-closing
		cancel() // the caller gives up too: the lock must still be removed
	})
	l, ok, err := s.TryLock(ctx, "close-race", time.Minute)
	ctx = context.Background()
	if !errors.Is(err, errClosed) || ok {
		t.Errorf("TryLock while Close runs = %v, %v; want an error wrapping %v", ok, err, errClosed)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if ok {
		select {
		case <-l.Lost():
		default:
			t.Error("the lease is held after Close returned")
		}
	}
	if l2, ok, err := other().TryLock(ctx, "close-race", time.Second); err != nil || !ok {
		t.Errorf("the lock is still held after Close: TryLock = %v, %v", ok, err)
	} else {
		_ = l2.Release(ctx)
	}
}
