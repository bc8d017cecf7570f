package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/storetest"
)

func abandon(l store.Lease) { l.(*memstore.Lease).Abandon() }

// TestConformance runs the suite, with Abandon so that the lock cases
// include a dead holder, on a fake clock and in real time.
func TestConformance(t *testing.T) {
	t.Run("FakeClock", func(t *testing.T) {
		c := fakeclock.New()
		s := memstore.New(memstore.Options{Now: c.Now, JanitorInterval: -1})
		t.Cleanup(func() { s.Close() })
		storetest.Run(t, s, storetest.Options{Local: true, Advance: c.Advance, Abandon: abandon})
	})
	t.Run("RealClock", func(t *testing.T) {
		s := memstore.New(memstore.Options{})
		t.Cleanup(func() { s.Close() })
		storetest.Run(t, s, storetest.Options{Local: true, TTL: 50 * time.Millisecond, Abandon: abandon})
	})
}

func TestLockNegativeLease(t *testing.T) {
	s := memstore.New(memstore.Options{JanitorInterval: -1})
	defer s.Close()
	if _, _, err := s.TryLock(context.Background(), "k", -time.Second); !errors.Is(err, store.ErrNegativeTTL) {
		t.Fatalf("TryLock with a negative lease: %v, want ErrNegativeTTL", err)
	}
	if _, err := s.Lock(context.Background(), "k", -time.Second); !errors.Is(err, store.ErrNegativeTTL) {
		t.Fatalf("Lock with a negative lease: %v, want ErrNegativeTTL", err)
	}
}

// TestLockWaiterWakesOnDeadHolder runs in a synctest bubble: the waiter's
// look-again timer and the store's clock are both fake time, and leaving
// the bubble proves that no goroutine is left behind.
func TestLockWaiterWakesOnDeadHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New(memstore.Options{JanitorInterval: -1})
		defer s.Close()
		ctx := context.Background()
		dead, ok, err := s.TryLock(ctx, "k", time.Second)
		if !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		got := make(chan error, 1)
		go func() {
			l, err := s.Lock(ctx, "k", time.Second)
			if err == nil {
				err = l.Release(ctx)
			}
			got <- err
		}()
		synctest.Wait() // the waiter is blocked on the holder
		select {
		case err := <-got:
			t.Fatalf("Lock returned %v while the lock was held", err)
		default:
		}
		dead.(*memstore.Lease).Abandon()
		start := time.Now()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Fatalf("the waiter took the lock %v after the holder died, before its 1s lease ran out", waited)
		}
		<-dead.Lost()
	})
}

// TestAbandonedLongLeaseHolds: a lease of the longest Duration, abandoned
// (its holder died), still holds the lock: its end is not computed by a sum
// that overflows into the past.
func TestAbandonedLongLeaseHolds(t *testing.T) {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	l, ok, err := s.TryLock(ctx, "k", time.Duration(math.MaxInt64))
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	l.(*memstore.Lease).Abandon()
	if _, ok, err := s.TryLock(ctx, "k", time.Second); ok || err != nil {
		t.Fatalf("TryLock while an abandoned 292-year lease holds the lock = %v, %v; want false", ok, err)
	}
}

func ExampleStore_Lock() {
	s := memstore.New(memstore.Options{})
	defer s.Close()
	ctx := context.Background()
	l, err := s.Lock(ctx, "report:2024", 30*time.Second)
	if err != nil {
		panic(err)
	}
	_, ok, _ := s.TryLock(ctx, "report:2024", 30*time.Second)
	fmt.Println("second TryLock:", ok)
	fmt.Println("release:", l.Release(ctx))
	<-l.Lost()
	fmt.Println("lost after release")
	// Output:
	// second TryLock: false
	// release: <nil>
	// lost after release
}
