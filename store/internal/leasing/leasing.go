// Package leasing holds the lock mechanics that the Redis and memcached
// stores share: the randomised, growing wait of Lock between two tries of a
// lock that another holder has ([Backoff]), and the goroutine that keeps a
// held lease renewed on the server and records whether the lease is held,
// released or lost ([Renewal]). The operations on the server (taking,
// renewing and deleting the lock key) stay in each store.
package leasing

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// MaxWait bounds the wait of a [Backoff].
const MaxWait = 50 * time.Millisecond

// ErrClosed is returned by [Backoff.Wait] when the store is closed first.
var ErrClosed = errors.New("store closed")

// Backoff is the wait of Lock between two tries while another holder has the
// lock: 2ms at first, doubling up to MaxWait, each wait drawn at random
// between half of it and all of it so that waiters do not poll in step. Its
// zero value is ready.
type Backoff struct {
	wait time.Duration
}

// Wait sleeps for the next wait. It returns ctx.Err() if ctx is done first,
// and ErrClosed if closed is closed first.
func (b *Backoff) Wait(ctx context.Context, closed <-chan struct{}) error {
	if b.wait == 0 {
		b.wait = 2 * time.Millisecond
	}
	t := time.NewTimer(b.wait/2 + mrand.N(b.wait/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return ErrClosed
	case <-t.C:
	}
	b.wait = min(2*b.wait, MaxWait)
	return nil
}

// State is where a lease stands.
type State int

const (
	// Held: the lease holds its lock, as far as this process knows.
	Held State = iota
	// Released: Release freed the lock.
	Released
	// Lost: the lease no longer holds its lock.
	Lost
)

// RenewFunc extends a held lock on the server for another lease. It returns
// held=false when the lock is gone or has another holder, and an error when
// it could not tell (the server cannot be reached). ctx ends after a third of
// the lease.
type RenewFunc func(ctx context.Context) (held bool, err error)

// Renewal is the state of a held lease that its holder shares with the
// goroutine renewing it: every third of the lease, the goroutine calls the
// store's RenewFunc, until Release, until a renewal finds the lock gone or
// renewals failed for a whole lease (the lease is then lost), or until the
// store is closed (lost too). Abandon stops the renewals as if the holder
// had died.
type Renewal struct {
	dur    time.Duration
	closed <-chan struct{}

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{} // closed by BeginRelease
	stopOnce sync.Once
	abandon  chan struct{} // closed by Abandon
	abanOnce sync.Once
	done     chan struct{} // closed when the renewal goroutine returns

	mu    sync.Mutex
	state State
}

// Enter adds one to wg unless closed is closed: then the store's Close,
// which closes it under mu, waits (wg.Wait) for the matching Done of a
// lock take in flight. It reports whether it added.
func Enter(mu *sync.Mutex, closed <-chan struct{}, wg *sync.WaitGroup) bool {
	mu.Lock()
	defer mu.Unlock()
	select {
	case <-closed:
		return false
	default:
	}
	wg.Add(1)
	return true
}

// Start returns the Renewal of a lease of dur just taken, and starts its
// renewal goroutine; wg counts that goroutine. expires is when the lease runs
// out on the server at the earliest, as far as this process knows; closed is
// closed by the store's Close. renew extends the lock; lost is called once
// when the goroutine gives the lease up, with nil when a renewal found the
// lock gone and with the last renewal's error when renewals failed for a
// whole lease, so that the store can log it.
func Start(wg *sync.WaitGroup, dur time.Duration, expires time.Time, closed <-chan struct{}, renew RenewFunc, lost func(err error)) *Renewal {
	r := &Renewal{
		dur: dur, closed: closed,
		lost: make(chan struct{}), stop: make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{}),
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(r.done)
		r.run(expires, renew, lost)
	}()
	return r
}

func (r *Renewal) run(expires time.Time, renew RenewFunc, lost func(err error)) {
	tick := time.NewTicker(r.dur / 3)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.closed:
			r.markLost()
			return
		case <-r.abandon:
			// A simulated dead holder: no more renewals; the lease is lost
			// once it has run out.
			t := time.NewTimer(time.Until(expires))
			defer t.Stop()
			select {
			case <-t.C:
				r.markLost()
			case <-r.stop:
			case <-r.closed:
				r.markLost()
			}
			return
		case <-tick.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), r.dur/3)
		held, err := renew(ctx)
		cancel()
		switch {
		case err == nil && held:
			expires = start.Add(r.dur)
		case err == nil:
			lost(nil)
			r.markLost()
			return
		case !time.Now().Before(expires):
			lost(err)
			r.markLost()
			return
		}
	}
}

// markLost records that the lease no longer holds its lock.
func (r *Renewal) markLost() {
	r.mu.Lock()
	if r.state == Held {
		r.state = Lost
	}
	r.mu.Unlock()
	r.lostOnce.Do(func() { close(r.lost) })
}

// BeginRelease starts a Release. If the lease was released or lost already,
// it returns that state and does nothing. Otherwise it stops the renewal
// goroutine, waits for it, closes Lost and returns Held: the store then
// deletes the lock on the server and calls EndRelease.
func (r *Renewal) BeginRelease() State {
	r.mu.Lock()
	state := r.state
	r.mu.Unlock()
	if state != Held {
		return state
	}
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	r.lostOnce.Do(func() { close(r.lost) })
	return Held
}

// EndRelease records the outcome of a Release whose deletion reached the
// server: Released if it deleted this lease's lock, Lost if the lock was gone
// or had another holder.
func (r *Renewal) EndRelease(released bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if released {
		r.state = Released
	} else {
		r.state = Lost
	}
}

// Lost returns the channel of store.Lease.Lost: it is closed by
// BeginRelease, when the lease is lost, and when the store is closed.
func (r *Renewal) Lost() <-chan struct{} { return r.lost }

// Abandon stops the renewals without releasing the lock, as if the holder's
// process had died: Lost closes once the lease has run out on the server.
func (r *Renewal) Abandon() { r.abanOnce.Do(func() { close(r.abandon) }) }
