package leasing

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffWait(t *testing.T) {
	var b Backoff
	for range 10 {
		if err := b.Wait(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if b.wait != MaxWait {
		t.Errorf("wait after 10 tries = %v, want %v", b.wait, MaxWait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a done ctx = %v, want context.Canceled", err)
	}
	closed := make(chan struct{})
	close(closed)
	if err := b.Wait(context.Background(), closed); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait with a closed store = %v, want ErrClosed", err)
	}
}

func waitLost(t *testing.T, r *Renewal) {
	t.Helper()
	select {
	case <-r.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("Lost did not close")
	}
}

func TestRenewalRelease(t *testing.T) {
	var wg sync.WaitGroup
	var renewals atomic.Int32
	renew := func(context.Context) (bool, error) { renewals.Add(1); return true, nil }
	lost := func(error) { t.Error("lost called") }
	const dur = 30 * time.Millisecond
	r := Start(&wg, dur, time.Now().Add(dur), nil, renew, lost)
	time.Sleep(3 * dur)
	if renewals.Load() == 0 {
		t.Error("no renewal")
	}
	if s := r.BeginRelease(); s != Held {
		t.Fatalf("BeginRelease = %v, want Held", s)
	}
	waitLost(t, r)
	r.EndRelease(true)
	if s := r.BeginRelease(); s != Released {
		t.Errorf("second BeginRelease = %v, want Released", s)
	}
	wg.Wait()
}

func TestRenewalLost(t *testing.T) {
	const dur = 30 * time.Millisecond
	for _, tc := range []struct {
		name    string
		renew   RenewFunc
		wantErr bool
	}{
		{"another holder", func(context.Context) (bool, error) { return false, nil }, false},
		{"renewals fail", func(context.Context) (bool, error) { return false, errors.New("down") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			var got []error
			r := Start(&wg, dur, time.Now().Add(dur), nil, tc.renew, func(err error) { got = append(got, err) })
			waitLost(t, r)
			wg.Wait()
			if len(got) != 1 || (got[0] != nil) != tc.wantErr {
				t.Errorf("lost called with %v", got)
			}
			if s := r.BeginRelease(); s != Lost {
				t.Errorf("BeginRelease = %v, want Lost", s)
			}
		})
	}
}

func TestRenewalClosedAndAbandoned(t *testing.T) {
	const dur = 30 * time.Millisecond
	renew := func(context.Context) (bool, error) { return true, nil }
	var wg sync.WaitGroup
	closed := make(chan struct{})
	r1 := Start(&wg, dur, time.Now().Add(dur), closed, renew, func(error) {})
	r2 := Start(&wg, dur, time.Now().Add(dur), nil, renew, func(error) {})
	r2.Abandon()
	start := time.Now()
	waitLost(t, r2)
	if time.Since(start) > 10*dur {
		t.Errorf("abandoned lease lost after %v", time.Since(start))
	}
	close(closed)
	waitLost(t, r1)
	wg.Wait()
	for _, r := range []*Renewal{r1, r2} {
		if s := r.BeginRelease(); s != Lost {
			t.Errorf("BeginRelease = %v, want Lost", s)
		}
	}
}
