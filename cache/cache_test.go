package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// quiet discards the log of failures that tests provoke.
var quiet = slog.New(slog.DiscardHandler)

// env is a region under test, with its manager, clock and (for a remote
// region) store.
type env struct {
	m   *cache.Manager
	r   *cache.Region
	clk *fakeclock.Clock
	st  *memstore.Store
}

const expire = time.Minute // default Grace: 30s

func newManager(t *testing.T, clk *fakeclock.Clock, ro cache.RegionOptions) (*cache.Manager, *cache.Region) {
	t.Helper()
	if ro.Name == "" {
		ro.Name = "r"
	}
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{ro}, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r, ok := m.Region(ro.Name)
	if !ok {
		t.Fatalf("Region(%q) not found", ro.Name)
	}
	return m, r
}

func newEnv(t *testing.T, remote bool, ro cache.RegionOptions) *env {
	t.Helper()
	e := &env{clk: fakeclock.New()}
	if remote {
		e.st = memstore.New(memstore.Options{Now: e.clk.Now, JanitorInterval: -1})
		t.Cleanup(func() { e.st.Close() })
		ro.Store = e.st
	}
	if ro.Expire == 0 {
		ro.Expire = expire
	}
	e.m, e.r = newManager(t, e.clk, ro)
	return e
}

// kinds runs f for a memory region and a remote one (on a memstore).
func kinds(t *testing.T, ro cache.RegionOptions, f func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { f(t, newEnv(t, false, ro)) })
	t.Run("remote", func(t *testing.T) { f(t, newEnv(t, true, ro)) })
}

func value(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return v, nil }
}

func mustNotRun(t *testing.T) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		t.Error("creator called, want a cached value")
		return "unexpected", nil
	}
}

func want(t *testing.T, r *cache.Region, key string, creator func(context.Context) (string, error), wantV string) {
	t.Helper()
	v, err := cache.GetOrCreate(context.Background(), r, key, creator)
	if err != nil || v != wantV {
		t.Fatalf("GetOrCreate(%q) = %q, %v; want %q", key, v, err, wantV)
	}
}

// blocker is a creator that reports it started and returns v once released.
type blocker struct {
	started chan struct{}
	release chan struct{}
	runs    atomic.Int32
	v       string
}

func newBlocker(v string) *blocker {
	return &blocker{started: make(chan struct{}, 100), release: make(chan struct{}), v: v}
}

func (b *blocker) create(ctx context.Context) (string, error) {
	b.runs.Add(1)
	b.started <- struct{}{}
	select {
	case <-b.release:
		return b.v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

type result struct {
	v   string
	err error
}

func goGet(r *cache.Region, ctx context.Context, key string, creator func(context.Context) (string, error)) <-chan result {
	c := make(chan result, 1)
	go func() {
		v, err := cache.GetOrCreate(ctx, r, key, creator)
		c <- result{v, err}
	}()
	return c
}

func TestGetOrCreateOneCreatorFor1000Callers(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		const callers = 1000
		var entered, runs atomic.Int32
		all := make(chan struct{})
		creator := func(context.Context) (int, error) {
			runs.Add(1)
			<-all // every caller has called GetOrCreate
			return 42, nil
		}
		var wg sync.WaitGroup
		var bad atomic.Int32
		for range callers {
			wg.Go(func() {
				if entered.Add(1) == callers {
					close(all)
				}
				v, err := cache.GetOrCreate(context.Background(), e.r, "answer", creator)
				if err != nil || v != 42 {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
		if n := runs.Load(); n != 1 {
			t.Fatalf("creator ran %d times for %d concurrent callers, want 1", n, callers)
		}
		if n := bad.Load(); n != 0 {
			t.Fatalf("%d callers did not get the created value", n)
		}
		s := e.r.Stats()
		if s.CreatorRuns != 1 || s.Hits+s.Misses != callers {
			t.Fatalf("Stats = %+v, want 1 creator run and %d hits+misses", s, callers)
		}
	})
}

// callEveryKey makes callers GetOrCreate calls at once on each of keys
// missing keys of r, with a creator that counts its runs and, when hold
// is set, returns only once every caller of its key has called. Every call
// must get its own key's value; it returns the runs of each key.
func callEveryKey(t *testing.T, r *cache.Region, keys, callers int, hold bool) []atomic.Int32 {
	t.Helper()
	runs := make([]atomic.Int32, keys)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := range keys {
		key := "k" + strconv.Itoa(k)
		var entered atomic.Int32
		all := make(chan struct{}) // every caller of key has called GetOrCreate
		creator := func(context.Context) (string, error) {
			runs[k].Add(1)
			if hold {
				<-all
			}
			return "v" + key, nil
		}
		for range callers {
			wg.Go(func() {
				<-start
				if entered.Add(1) == int32(callers) {
					close(all)
				}
				v, err := cache.GetOrCreate(context.Background(), r, key, creator)
				if err != nil || v != "v"+key {
					t.Errorf("GetOrCreate(%s) = %q, %v", key, v, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return runs
}

// TestOneRunPerKeyAcrossKeys: many missing keys at once, many callers
// each (the region's runs are kept in shards by key): every key's creator
// runs once, and every caller gets its own key's value.
func TestOneRunPerKeyAcrossKeys(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		runs := callEveryKey(t, e.r, 64, 8, true)
		for k := range runs {
			if n := runs[k].Load(); n != 1 {
				t.Errorf("key %d: creator ran %d times, want 1", k, n)
			}
		}
	})
}

// TestOneRunPerKeyWhenRunsEndAtOnce: creators that return at once, so
// that runs end between a caller's read and its look for a run under way:
// a caller that finds none, but sees that a run ended since its read,
// starts a run that reads again before it creates, and finds the value. 8,192 keys
// with 8 callers each (TestRunEndedSinceTheReadIsNotRepeated makes the
// window happen step by step; here it happens by chance, many times).
func TestOneRunPerKeyWhenRunsEndAtOnce(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		const keys = 8192
		extra := 0
		runs := callEveryKey(t, e.r, keys, 8, false)
		for k := range runs {
			extra += int(runs[k].Load()) - 1
		}
		if extra != 0 {
			t.Errorf("%d creator runs more than one per key, for %d keys", extra, keys)
		}
	})
}

// TestStatsCountTheRegenerator: the call that regenerates a stale value
// (after a soft invalidation) waits for its run and serves the new value;
// it counts as one read, a miss.
func TestStatsCountTheRegenerator(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.r.Set(ctx, "k", "old"); err != nil {
			t.Fatal(err)
		}
		if err := e.r.Invalidate(ctx, cache.Soft); err != nil {
			t.Fatal(err)
		}
		want(t, e.r, "k", value("new"), "new")
		st := e.r.Stats()
		if st.Hits != 0 || st.Misses != 1 || st.StaleServed != 0 || st.CreatorRuns != 1 {
			t.Fatalf("stats after regenerating a stale value: %+v, want one miss and one run", st)
		}
	})
}

// TestStatsCountAMissAfterClose: a miss on a closed Manager, which runs no
// creator (ErrClosed), still counts as one read, a miss.
func TestStatsCountAMissAfterClose(t *testing.T) {
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r"}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Region("r")
	m.Close()
	if _, err := cache.GetOrCreate(context.Background(), r, "k", value("v")); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("GetOrCreate after Close: %v, want ErrClosed", err)
	}
	if st := r.Stats(); st.Hits != 0 || st.Misses != 1 || st.StaleServed != 0 || st.CreatorRuns != 0 {
		t.Fatalf("stats after a miss on a closed manager: %+v, want one miss and no run", st)
	}
}

// TestStatsCountACancelledRead: a GetOrCreate or a Get whose context is
// done before it reads a missing key gets the context's error, and counts
// as a miss.
func TestStatsCountACancelledRead(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := cache.GetOrCreate(ctx, e.r, "k", value("v")); !errors.Is(err, context.Canceled) {
			t.Fatalf("GetOrCreate with a cancelled context: %v", err)
		}
		if _, _, err := cache.Get[string](ctx, e.r, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context: %v", err)
		}
		if st := e.r.Stats(); st.Hits != 0 || st.Misses != 2 || st.StaleServed != 0 || st.CreatorRuns != 0 {
			t.Fatalf("stats after two cancelled reads: %+v, want two misses and no run", st)
		}
	})
}

// TestStatsCountEveryRead: the hit and miss counters, which goroutines add
// to on separate stripes, lose no read: Get and GetOrCreate from many
// goroutines at once, on both kinds of region.
func TestStatsCountEveryRead(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.r.Set(ctx, "present", "v"); err != nil {
			t.Fatal(err)
		}
		const goroutines, reads = 8, 500
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range reads {
					if _, ok, err := cache.Get[string](ctx, e.r, "present"); !ok || err != nil {
						t.Errorf("Get(present) = %v, %v", ok, err)
					}
					if _, ok, err := cache.Get[string](ctx, e.r, "absent"); ok || err != nil {
						t.Errorf("Get(absent) = %v, %v", ok, err)
					}
					if _, err := cache.GetOrCreate(ctx, e.r, "present", mustNotRun(t)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		s := e.r.Stats()
		if s.Hits != 2*goroutines*reads || s.Misses != goroutines*reads {
			t.Fatalf("Stats = %+v, want %d hits and %d misses", s, 2*goroutines*reads, goroutines*reads)
		}
	})
}

func TestStaleServedWhileOneRegenerates(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		want(t, e.r, "k", value("v1"), "v1")
		e.clk.Advance(expire + time.Second) // stale, within the grace period
		b := newBlocker("v2")
		regen := goGet(e.r, context.Background(), "k", b.create)
		<-b.started
		for range 10 {
			want(t, e.r, "k", mustNotRun(t), "v1") // at once, while the creator is blocked
		}
		close(b.release)
		if r := <-regen; r.err != nil || r.v != "v2" {
			t.Fatalf("the regenerating caller got %q, %v; want v2", r.v, r.err)
		}
		want(t, e.r, "k", mustNotRun(t), "v2")
		if s := e.r.Stats(); s.StaleServed != 10 || s.CreatorRuns != 2 {
			t.Fatalf("Stats = %+v, want 10 stale served and 2 creator runs", s)
		}

		// Past the grace period the stale value is gone: callers wait.
		e.clk.Advance(expire + expire/2)
		b3 := newBlocker("v3")
		first := goGet(e.r, context.Background(), "k", b3.create)
		<-b3.started
		second := goGet(e.r, context.Background(), "k", mustNotRun(t))
		select {
		case r := <-second:
			t.Fatalf("a caller got %q, %v without waiting for the creator of an expired value", r.v, r.err)
		default:
		}
		close(b3.release)
		for _, c := range []<-chan result{first, second} {
			if r := <-c; r.err != nil || r.v != "v3" {
				t.Fatalf("got %q, %v; want v3", r.v, r.err)
			}
		}
	})
}

func TestInvalidateHard(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		want(t, e.r, "k", value("v1"), "v1")
		if err := e.r.Invalidate(ctx, cache.Hard); err != nil {
			t.Fatal(err)
		}
		if _, found, err := cache.Get[string](ctx, e.r, "k"); found || err != nil {
			t.Fatalf("Get after a hard invalidation: found=%v, %v; want a miss", found, err)
		}
		b := newBlocker("v2")
		first := goGet(e.r, ctx, "k", b.create)
		<-b.started
		second := goGet(e.r, ctx, "k", mustNotRun(t))
		select {
		case r := <-second:
			t.Fatalf("a caller got %q, %v without waiting after a hard invalidation", r.v, r.err)
		default:
		}
		close(b.release)
		for _, c := range []<-chan result{first, second} {
			if r := <-c; r.err != nil || r.v != "v2" {
				t.Fatalf("got %q, %v; want v2", r.v, r.err)
			}
		}
		want(t, e.r, "k", mustNotRun(t), "v2") // made after the invalidation: fresh
	})
}

func TestInvalidateSoft(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		want(t, e.r, "k", value("v1"), "v1")
		if err := e.r.Invalidate(ctx, cache.Soft); err != nil {
			t.Fatal(err)
		}
		b := newBlocker("v2")
		regen := goGet(e.r, ctx, "k", b.create)
		<-b.started
		want(t, e.r, "k", mustNotRun(t), "v1")
		close(b.release)
		if r := <-regen; r.err != nil || r.v != "v2" {
			t.Fatalf("got %q, %v; want v2", r.v, r.err)
		}
		want(t, e.r, "k", mustNotRun(t), "v2")
	})
}

var errBoom = errors.New("boom")

// TestCreatorError runs in a synctest bubble: the creator fails only once
// every caller waits for it (synctest.Wait), so that all of them share the
// failed run.
func TestCreatorError(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(kindName[remote], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testCreatorError(t, newEnv(t, remote, cache.RegionOptions{})) })
		})
	}
}

var kindName = map[bool]string{false: "memory", true: "remote"}

func testCreatorError(t *testing.T, e *env) {
	const callers = 50
	var runs atomic.Int32
	fail := make(chan struct{})
	failing := func(context.Context) (string, error) {
		runs.Add(1)
		<-fail
		return "", errBoom
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := cache.GetOrCreate(context.Background(), e.r, "k", failing)
			errs <- err
		})
	}
	synctest.Wait() // every caller waits for the one run
	close(fail)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, errBoom) {
			t.Fatalf("a waiter got %v, want an error wrapping the creator's", err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("failing creator ran %d times, want 1", runs.Load())
	}
	if _, found, _ := cache.Get[string](context.Background(), e.r, "k"); found {
		t.Fatal("a failed creation cached something")
	}
	want(t, e.r, "k", value("ok"), "ok") // the next call runs the creator again
	if s := e.r.Stats(); s.CreatorErrors != 1 || s.CreatorRuns != 2 || s.LockWaits != callers-1 {
		t.Fatalf("Stats = %+v, want 1 creator error in 2 runs, %d lock waits", s, callers-1)
	}
}

func TestCreatorPanic(t *testing.T) {
	e := newEnv(t, false, cache.RegionOptions{})
	_, err := cache.GetOrCreate(context.Background(), e.r, "k", func(context.Context) (int, error) { panic("oops") })
	if !errors.Is(err, cache.ErrCreatorPanic) || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("GetOrCreate with a panicking creator: %v, want ErrCreatorPanic", err)
	}
	// A creator that panics with an error: callers can match it too.
	_, err = cache.GetOrCreate(context.Background(), e.r, "e", func(context.Context) (int, error) { panic(errBoom) })
	if !errors.Is(err, cache.ErrCreatorPanic) || !errors.Is(err, errBoom) {
		t.Fatalf("GetOrCreate with a creator panicking with an error: %v, want ErrCreatorPanic wrapping it", err)
	}
}

// TestCreatorGoexit: a creator that ends its goroutine with runtime.Goexit
// (t.Fatal called in a creator, say) fails its run like a panic: its
// callers get an error instead of waiting for ever, and the next call runs
// the creator again.
func TestCreatorGoexit(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := cache.GetOrCreate(context.Background(), e.r, "k", func(context.Context) (string, error) {
					time.Sleep(10 * time.Millisecond)
					runtime.Goexit()
					return "", nil
				})
				errs <- err
			}()
		}
		for range 2 {
			select {
			case err := <-errs:
				if err == nil {
					t.Fatal("GetOrCreate with a creator that called runtime.Goexit gave no error")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("GetOrCreate still waits for a creator that called runtime.Goexit")
			}
		}
		want(t, e.r, "k", value("v"), "v")
	})
}

// TestWaiterCancel runs in a synctest bubble, so that synctest.Wait tells
// when every caller is blocked waiting for the creator.
func TestWaiterCancel(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(kindName[remote], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testWaiterCancel(t, remote) })
		})
	}
}

func testWaiterCancel(t *testing.T, remote bool) {
	var st store.Store
	if remote {
		ms := memstore.New(memstore.Options{JanitorInterval: -1})
		defer ms.Close()
		st = ms
	}
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: st, Expire: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.Region("r")

	// One of two waiters cancels: it returns at once, the creator goes on.
	b := newBlocker("v")
	c1, cancel1 := context.WithCancel(context.Background())
	w1 := goGet(r, c1, "k", b.create)
	<-b.started
	w2 := goGet(r, context.Background(), "k", mustNotRun(t))
	synctest.Wait()
	cancel1()
	if res := <-w1; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("the canceled waiter got %q, %v; want context.Canceled", res.v, res.err)
	}
	synctest.Wait()
	select {
	case res := <-w2:
		t.Fatalf("the other waiter returned %q, %v before the creator finished", res.v, res.err)
	default:
	}
	close(b.release)
	if res := <-w2; res.err != nil || res.v != "v" {
		t.Fatalf("the remaining waiter got %q, %v; want v", res.v, res.err)
	}

	// Every waiter cancels: the creator's context is cancelled.
	ctxDone := make(chan struct{})
	started := make(chan struct{})
	creator := func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		close(ctxDone)
		return "", ctx.Err()
	}
	ca, cancelA := context.WithCancel(context.Background())
	cb, cancelB := context.WithCancel(context.Background())
	wa := goGet(r, ca, "k2", creator)
	<-started
	wb := goGet(r, cb, "k2", mustNotRun(t))
	synctest.Wait()
	cancelA()
	<-wa
	synctest.Wait()
	select {
	case <-ctxDone:
		t.Fatal("the creator's context was cancelled while a waiter remained")
	default:
	}
	cancelB()
	if res := <-wb; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("waiter got %v, want context.Canceled", res.err)
	}
	<-ctxDone
	want(t, r, "k2", value("again"), "again") // nothing was cached
}

// TestTwoManagers has two Managers (standing in for two processes) share
// one memstore.Store, whose Locker gives one creator between them.
func TestTwoManagers(t *testing.T) {
	clk := fakeclock.New()
	st := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	defer st.Close()
	ro := cache.RegionOptions{Name: "r", Store: st, Expire: time.Hour, GenerationInterval: 5 * time.Second}
	_, r1 := newManager(t, clk, ro)
	_, r2 := newManager(t, clk, ro)

	const perManager = 100
	var entered, runs atomic.Int32
	all := make(chan struct{})
	creator := func(context.Context) (string, error) {
		runs.Add(1)
		<-all
		return "v1", nil
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range 2 * perManager {
		r := []*cache.Region{r1, r2}[i%2]
		wg.Go(func() {
			if entered.Add(1) == 2*perManager {
				close(all)
			}
			if v, err := cache.GetOrCreate(context.Background(), r, "k", creator); err != nil || v != "v1" {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if runs.Load() != 1 || bad.Load() != 0 {
		t.Fatalf("creator ran %d times (want 1); %d callers failed", runs.Load(), bad.Load())
	}

	// A hard invalidation in one is seen by the other within GenerationInterval.
	if err := r1.Invalidate(context.Background(), cache.Hard); err != nil {
		t.Fatal(err)
	}
	want(t, r1, "k", value("v2"), "v2")
	clk.Advance(5 * time.Second)
	want(t, r2, "k", mustNotRun(t), "v2")

	// r2 had read the record at the start: it sees r1's next invalidation
	// only once it re-reads it.
	if err := r1.Invalidate(context.Background(), cache.Hard); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	want(t, r2, "k", value("v3"), "v3")
	want(t, r1, "k", mustNotRun(t), "v3")
}

func TestGenerationWithinInterval(t *testing.T) {
	clk := fakeclock.New()
	st := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	defer st.Close()
	ro := cache.RegionOptions{Name: "r", Store: st, Expire: time.Hour, GenerationInterval: 5 * time.Second}
	_, r1 := newManager(t, clk, ro)
	_, r2 := newManager(t, clk, ro)
	want(t, r1, "k", value("v1"), "v1")
	want(t, r2, "k", mustNotRun(t), "v1")
	clk.Advance(time.Second)
	if err := r1.Invalidate(context.Background(), cache.Hard); err != nil {
		t.Fatal(err)
	}
	want(t, r2, "k", mustNotRun(t), "v1") // r2 has not re-read the record yet
	clk.Advance(4 * time.Second)
	want(t, r2, "k", value("v2"), "v2")
}

func TestGenerationRecordMissing(t *testing.T) {
	e := newEnv(t, true, cache.RegionOptions{GenerationInterval: time.Second})
	ctx := context.Background()
	want(t, e.r, "k", value("v1"), "v1")
	const genKey = "cache:r:__generation__"
	if _, found, _ := e.st.Get(ctx, genKey); !found {
		t.Fatalf("no generation record under %q", genKey)
	}
	e.clk.Advance(time.Second)
	if err := e.st.Delete(ctx, genKey); err != nil { // evicted, or the server flushed
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	want(t, e.r, "k", value("v2"), "v2") // missing counts as invalidated now
	if _, found, _ := e.st.Get(ctx, genKey); !found {
		t.Fatal("the generation record was not written again")
	}
	e.clk.Advance(time.Second)
	want(t, e.r, "k", mustNotRun(t), "v2")
}

func TestUndecodableIsMiss(t *testing.T) {
	e := newEnv(t, true, cache.RegionOptions{})
	ctx := context.Background()
	want(t, e.r, "k", value("v1"), "v1")
	if err := e.st.Set(ctx, "cache:r:k", []byte("garbage"), 0); err != nil {
		t.Fatal(err)
	}
	want(t, e.r, "k", value("v2"), "v2")
	// A value of another type does not decode into T: a miss too.
	v, err := cache.GetOrCreate(ctx, e.r, "k", func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("GetOrCreate[int] over a string = %v, %v; want 7", v, err)
	}
}

func TestGetSetDelete(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		type point struct{ X, Y int }
		if err := e.r.Set(ctx, "p", point{1, 2}); err != nil {
			t.Fatal(err)
		}
		p, found, err := cache.Get[point](ctx, e.r, "p")
		if err != nil || !found || p != (point{1, 2}) {
			t.Fatalf("Get = %v, %v, %v", p, found, err)
		}
		e.clk.Advance(expire + time.Millisecond)
		if _, found, _ := cache.Get[point](ctx, e.r, "p"); found {
			t.Fatal("Get returned an expired value")
		}
		if err := e.r.Set(ctx, "p", point{3, 4}); err != nil {
			t.Fatal(err)
		}
		if err := e.r.Delete(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := cache.Get[point](ctx, e.r, "p"); found {
			t.Fatal("Get found a deleted value")
		}
	})
}

func TestLongKeysHashed(t *testing.T) {
	e := newEnv(t, true, cache.RegionOptions{KeyLength: 40})
	ctx := context.Background()
	long := strings.Repeat("x", 100)
	want(t, e.r, long, value("long"), "long")
	want(t, e.r, long, mustNotRun(t), "long")
	want(t, e.r, "short", value("short"), "short")
	want(t, e.r, "__generation__", value("user"), "user") // hashed: no clash with the record
	var keys []string
	_ = e.st.Scan(ctx, "cache:r:", func(k string) error { keys = append(keys, k); return nil })
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		if strings.Contains(k, long) {
			t.Errorf("key %q stored unhashed past KeyLength", k)
		}
	}
	if !seen["cache:r:short"] || !seen["cache:r:__generation__"] || len(keys) != 4 {
		t.Fatalf("stored keys %q", keys)
	}
	e.clk.Advance(2 * time.Second) // re-read the record: the user's value did not replace it
	want(t, e.r, "short", mustNotRun(t), "short")
}

// TestHashedKeyDoesNotCollide: a key that is itself the SHA-256 hex of a
// long key must not reach the long key's value (and so read or overwrite
// it) through the store key that hashing gives the long one.
func TestHashedKeyDoesNotCollide(t *testing.T) {
	e := newEnv(t, true, cache.RegionOptions{KeyLength: 100})
	long := strings.Repeat("x", 200)
	sum := sha256.Sum256([]byte(long))
	want(t, e.r, long, value("long"), "long")
	want(t, e.r, hex.EncodeToString(sum[:]), value("hex"), "hex")
	want(t, e.r, long, mustNotRun(t), "long")
}

func TestDisabled(t *testing.T) {
	kinds(t, cache.RegionOptions{Disabled: true}, func(t *testing.T, e *env) {
		ctx := context.Background()
		var runs atomic.Int32
		creator := func(context.Context) (int, error) { return int(runs.Add(1)), nil }
		for i := 1; i <= 3; i++ {
			if v, err := cache.GetOrCreate(ctx, e.r, "k", creator); err != nil || v != i {
				t.Fatalf("GetOrCreate on a disabled region = %v, %v; want %d", v, err, i)
			}
		}
		if err := e.r.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := cache.Get[int](ctx, e.r, "k"); found {
			t.Fatal("Get on a disabled region found a value")
		}
		if e.st != nil && e.st.Len() != 0 {
			t.Fatalf("a disabled region wrote %d entries to its store", e.st.Len())
		}
	})
}

func TestMemoize(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		calls := map[string]int{}
		var mu sync.Mutex
		join := cache.Memoize2(e.r, "join", func(_ context.Context, a, b string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[a+"|"+b]++
			return fmt.Sprintf("%s|%s#%d", a, b, calls[a+"|"+b]), nil
		})
		get := func(a, b, wantV string) {
			t.Helper()
			if v, err := join.Get(ctx, a, b); err != nil || v != wantV {
				t.Fatalf("join(%q, %q) = %q, %v; want %q", a, b, v, err, wantV)
			}
		}
		get("a b", "c", "a b|c#1")
		get("a", "b c", "a|b c#1") // not the same key as ("a b", "c")
		get("a b", "c", "a b|c#1")
		k1, _ := join.Key("a b", "c")
		k2, _ := join.Key("a", "b c")
		if k1 == k2 {
			t.Fatalf("keys of different arguments collide: %q", k1)
		}
		if err := join.Invalidate(ctx, "a b", "c"); err != nil {
			t.Fatal(err)
		}
		get("a b", "c", "a b|c#2")
		get("a", "b c", "a|b c#1")
		if v, err := join.Refresh(ctx, "a", "b c"); err != nil || v != "a|b c#2" {
			t.Fatalf("Refresh = %q, %v", v, err)
		}
		get("a", "b c", "a|b c#2")

		square := cache.Memoize1(e.r, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
		if v, err := square.Get(ctx, 7); err != nil || v != 49 {
			t.Fatalf("square(7) = %v, %v", v, err)
		}
	})
}

// TestMemoizeInvalidUTF8: JSON turns every byte that is not UTF-8 into
// U+FFFD, so f("\xff") and f("\xfe") would share one key, and one would be
// served the other's result. Such a call is not cached: fn runs each time
// and gives each its own result. A real U+FFFD, or the text \ufffd, still
// makes a key of its own and is cached.
func TestMemoizeInvalidUTF8(t *testing.T) {
	kinds(t, cache.RegionOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		var runs atomic.Int32
		f := cache.Memoize1(e.r, "f", func(_ context.Context, s string) (string, error) {
			runs.Add(1)
			return fmt.Sprintf("%x", s), nil
		})
		valid := []string{"ok", "\ufffd", `\ufffd`, `\\ufffd`}
		for range 2 {
			for _, s := range valid {
				if v, err := f.Get(ctx, s); err != nil || v != fmt.Sprintf("%x", s) {
					t.Fatalf("f(%q) = %q, %v", s, v, err)
				}
			}
		}
		if n := runs.Load(); n != int32(len(valid)) {
			t.Fatalf("fn ran %d times for %d distinct valid arguments asked twice: they were not cached apart", n, len(valid))
		}
		for _, s := range []string{"\xff", "\xfe", "a\xfeb", `\` + "\xff"} {
			for _, get := range []func(context.Context, string) (string, error){f.Get, f.Refresh} {
				if v, err := get(ctx, s); err != nil || v != fmt.Sprintf("%x", s) {
					t.Errorf("f(%q) = %q, %v; want %x, called through (its key would be that of every other such string)", s, v, err, s)
				}
			}
			if err := f.Invalidate(ctx, s); err != nil {
				t.Errorf("Invalidate(%q) = %v, want nil (nothing cached)", s, err)
			}
			if _, err := f.Key(s); !errors.Is(err, cache.ErrUncacheableArgs) {
				t.Errorf("Key(%q) = %v, want ErrUncacheableArgs", s, err)
			}
		}
		p := cache.Memoize1(e.r, "p", func(_ context.Context, s string) (string, error) { panic("boom") })
		if _, err := p.Get(ctx, "\xff"); !errors.Is(err, cache.ErrCreatorPanic) {
			t.Errorf("a panic in an uncached call: %v, want ErrCreatorPanic", err)
		}
		g := cache.Memoize2(e.r, "g", func(_ context.Context, m map[string]int, k string) (int, error) { return m[k], nil })
		for k, want := range map[string]int{"\xff": 1, "\xfe": 2} {
			if v, err := g.Get(ctx, map[string]int{"\xff": 1, "\xfe": 2}, k); err != nil || v != want {
				t.Errorf("g(m, %q) = %d, %v; want %d", k, v, err, want)
			}
		}
	})
}

func TestMemoizeDisabled(t *testing.T) {
	e := newEnv(t, false, cache.RegionOptions{Disabled: true})
	var runs atomic.Int32
	f := cache.Memoize1(e.r, "f", func(_ context.Context, s string) (int, error) { return int(runs.Add(1)), nil })
	for i := 1; i <= 3; i++ {
		if v, err := f.Get(context.Background(), "x"); err != nil || v != i {
			t.Fatalf("memoized call on a disabled region = %v, %v; want %d (called through)", v, err, i)
		}
	}
}

// TestNilInterfaceValue: a creator of an interface type (any, error, an
// io.Reader) may return nil, which is a value like any other: a disabled
// region calls it through, and Refresh stores it, on every kind of region.
func TestNilInterfaceValue(t *testing.T) {
	nilAny := func(context.Context, string) (any, error) { return nil, nil }
	for _, disabled := range []bool{false, true} {
		kinds(t, cache.RegionOptions{Disabled: disabled}, func(t *testing.T, e *env) {
			ctx := context.Background()
			f := cache.Memoize1(e.r, "f", nilAny)
			if v, err := f.Get(ctx, "x"); err != nil || v != nil {
				t.Fatalf("Get = %v, %v; want nil, nil", v, err)
			}
			if v, err := f.Refresh(ctx, "x"); err != nil || v != nil {
				t.Fatalf("Refresh = %v, %v; want nil, nil", v, err)
			}
			if v, err := f.Get(ctx, "x"); err != nil || v != nil {
				t.Fatalf("Get after Refresh = %v, %v; want nil, nil", v, err)
			}
		})
	}
}

func TestMaxEntries(t *testing.T) {
	e := newEnv(t, false, cache.RegionOptions{MaxEntries: 64})
	ctx := context.Background()
	for i := range 1000 {
		if err := e.r.Set(ctx, fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for i := range 1000 {
		if _, found, _ := cache.Get[int](ctx, e.r, fmt.Sprint(i)); found {
			n++
		}
	}
	if n == 0 || n > 64 {
		t.Fatalf("%d of 1000 values kept with MaxEntries 64", n)
	}
}

func TestNewErrors(t *testing.T) {
	for _, regions := range [][]cache.RegionOptions{
		{{Name: ""}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", Expire: -time.Second}},
	} {
		if _, err := cache.New(cache.Options{Regions: regions}); !errors.Is(err, cache.ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOptions", regions, err)
		}
	}
	// Regions "a" and "a:b" on stores: "a"'s key "b:x" and "a:b"'s key
	// "x" would both be cache:a:b:x, and "a"'s key "b:__generation__"
	// would be "a:b"'s invalidation record. Refused, either way round and
	// with explicit prefixes too; memory regions, which have no store
	// keys, and disjoint prefixes are fine.
	st := memstore.New(memstore.Options{})
	defer st.Close()
	for _, regions := range [][]cache.RegionOptions{
		{{Name: "a", Store: st}, {Name: "a:b", Store: st}},
		{{Name: "a:b", Store: st}, {Name: "a", Store: st}},
		{{Name: "x", Store: st, Prefix: "p:"}, {Name: "y", Store: st, Prefix: "p:q:"}},
	} {
		if _, err := cache.New(cache.Options{Regions: regions}); !errors.Is(err, cache.ErrInvalidOptions) || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("regions %q and %q: New = %v, want ErrInvalidOptions for prefixes that overlap", regions[0].Name, regions[1].Name, err)
		}
	}
	for _, regions := range [][]cache.RegionOptions{
		{{Name: "a"}, {Name: "a:b"}},
		{{Name: "a", Store: st}, {Name: "ab", Store: st}},
	} {
		m, err := cache.New(cache.Options{Regions: regions})
		if err != nil {
			t.Errorf("regions %q and %q: New = %v", regions[0].Name, regions[1].Name, err)
			continue
		}
		m.Close()
	}

	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "b"}, {Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Regions(); strings.Join(got, ",") != "b,a" {
		t.Fatalf("Regions() = %q, want configuration order", got)
	}
	if _, ok := m.Region("c"); ok {
		t.Fatal("Region of an unknown name found")
	}
}

// TestCloseStopsGoroutines leaves a synctest bubble after Close: a goroutine
// still running (the coarse clock) would fail the test.
func TestCloseStopsGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Expire: time.Second}}})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := m.Region("r")
		want(t, r, "k", value("v1"), "v1")
		time.Sleep(500 * time.Millisecond) // fake time: the coarse clock ticks
		want(t, r, "k", mustNotRun(t), "v1")
		time.Sleep(700 * time.Millisecond) // stale, in the 500ms grace period
		b := newBlocker("v2")
		run := goGet(r, context.Background(), "k", b.create)
		<-b.started
		want(t, r, "k", mustNotRun(t), "v1") // stale: the coarse clock moved
		m.Close()                            // cancels the creator
		if res := <-run; !errors.Is(res.err, context.Canceled) {
			t.Fatalf("creator run during Close: %q, %v; want context.Canceled", res.v, res.err)
		}
		if _, err := cache.GetOrCreate(context.Background(), r, "other", value("x")); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("GetOrCreate miss after Close: %v, want ErrClosed", err)
		}
		m.Close()
	})
}

// countingStore counts the round trips a region makes to its store.
type countingStore struct {
	*memstore.Store
	gets, writes atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	c.writes.Add(1)
	return c.Store.Set(ctx, key, v, ttl)
}

func TestRemoteHitIsOneRoundTrip(t *testing.T) {
	clk := fakeclock.New()
	ms := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	cs := &countingStore{Store: ms}
	_, r := newManager(t, clk, cache.RegionOptions{Store: cs, Expire: expire, GenerationInterval: time.Second})
	want(t, r, "k", value("v"), "v") // reads the generation record, misses, creates
	clk.Advance(10 * time.Millisecond)
	gets, writes := cs.gets.Load(), cs.writes.Load()
	for range 5 {
		want(t, r, "k", mustNotRun(t), "v")
	}
	if n := cs.gets.Load() - gets; n != 5 {
		t.Fatalf("5 hits within the generation interval made %d store reads, want 5 (one round trip each)", n)
	}
	if cs.writes.Load() != writes {
		t.Fatal("hits wrote to the store")
	}
	// Past the interval, one more read refreshes the generation record.
	clk.Advance(2 * time.Second)
	gets = cs.gets.Load()
	want(t, r, "k", mustNotRun(t), "v")
	if n := cs.gets.Load() - gets; n != 2 {
		t.Fatalf("a hit after the generation interval made %d reads, want 2 (generation record + value)", n)
	}
}

// regionKind is one kind of region the value rule is checked on. objects
// is true for the one kind that keeps Go values (a plain memory region):
// the documented exceptions to the rule apply to it only.
type regionKind struct {
	name    string
	objects bool
	make    func(t *testing.T) cache.RegionOptions
}

var regionKinds = []regionKind{
	{name: "memory", objects: true, make: func(*testing.T) cache.RegionOptions { return cache.RegionOptions{} }},
	{name: "memory-roundtrip", make: func(*testing.T) cache.RegionOptions { return cache.RegionOptions{RoundTrip: true} }},
	{name: "memstore", make: func(t *testing.T) cache.RegionOptions {
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { st.Close() })
		return cache.RegionOptions{Store: st}
	}},
	{name: "filestore", make: func(t *testing.T) cache.RegionOptions {
		st, err := filestore.New(filestore.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return cache.RegionOptions{Store: st}
	}},
	{name: "sqlite", make: func(t *testing.T) cache.RegionOptions {
		url := "sqlite:///" + filepath.Join(t.TempDir(), "cache.db")
		st, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return cache.RegionOptions{Store: st}
	}},
}

// eachKind runs f on a fresh region of every kind.
func eachKind(t *testing.T, f func(t *testing.T, k regionKind, r *cache.Region)) {
	for _, k := range regionKinds {
		t.Run(k.name, func(t *testing.T) {
			ro := k.make(t)
			ro.Name = "values"
			ro.Expire = time.Hour
			m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{ro}, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			r, _ := m.Region("values")
			f(t, k, r)
		})
	}
}

type point struct{ X, Y int }

type secretive struct {
	Public  string
	private string
}

func mustGet[T any](t *testing.T, r *cache.Region, key string) T {
	t.Helper()
	v, found, err := cache.Get[T](context.Background(), r, key)
	if err != nil || !found {
		t.Fatalf("Get[%T](%q) = %v, %v, %v; want a hit", v, key, v, found, err)
	}
	return v
}

func mustSet(t *testing.T, r *cache.Region, key string, v any) {
	t.Helper()
	if err := r.Set(context.Background(), key, v); err != nil {
		t.Fatalf("Set(%q, %#v): %v", key, v, err)
	}
}

// TestValueRule runs the cases of the package documentation's "Values"
// rule on every kind of region: a value reads back as what its JSON
// encoding decodes into, in the type asked for.
func TestValueRule(t *testing.T) {
	ctx := context.Background()

	t.Run("numbers convert between types", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "n", 42)
			if v := mustGet[int64](t, r, "n"); v != 42 {
				t.Errorf("Get[int64] = %d", v)
			}
			if v := mustGet[int](t, r, "n"); v != 42 {
				t.Errorf("Get[int] = %d", v)
			}
			if v := mustGet[float64](t, r, "n"); v != 42 {
				t.Errorf("Get[float64] = %v", v)
			}
			if v, found, err := cache.Get[string](ctx, r, "n"); found || err != nil {
				t.Errorf("Get[string] of 42 = %q, %v, %v; want a miss", v, found, err)
			}
			if v, err := cache.GetOrCreate(ctx, r, "n", func(context.Context) (int64, error) {
				t.Error("creator ran for a value that decodes into int64")
				return 0, nil
			}); err != nil || v != 42 {
				t.Errorf("GetOrCreate[int64] = %v, %v", v, err)
			}
		})
	})

	t.Run("a value that does not decode is a miss", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "s", "text")
			v, err := cache.GetOrCreate(ctx, r, "s", func(context.Context) (point, error) { return point{7, 8}, nil })
			if err != nil || v != (point{7, 8}) {
				t.Fatalf("GetOrCreate[point] over a string = %v, %v; want the creator's", v, err)
			}
			if p := mustGet[point](t, r, "s"); p != (point{7, 8}) {
				t.Fatalf("the created value was not stored: %v", p)
			}
		})
	})

	t.Run("structs, maps, slices and nil", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "p", point{1, 2})
			if p := mustGet[point](t, r, "p"); p != (point{1, 2}) {
				t.Errorf("Get[point] = %v", p)
			}
			if p := mustGet[*point](t, r, "p"); p == nil || *p != (point{1, 2}) {
				t.Errorf("Get[*point] = %v", p)
			}
			mustSet(t, r, "m", map[string][]int{"a": {1, 2}})
			if m := mustGet[map[string][]int](t, r, "m"); !reflect.DeepEqual(m, map[string][]int{"a": {1, 2}}) {
				t.Errorf("Get[map] = %v", m)
			}
			mustSet(t, r, "nil", nil)
			if p := mustGet[*point](t, r, "nil"); p != nil {
				t.Errorf("Get[*point] of nil = %v", p)
			}
		})
	})

	// The exceptions: a plain memory region keeps the Go value itself.
	t.Run("unexported fields", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "s", secretive{"pub", "priv"})
			got := mustGet[secretive](t, r, "s")
			want := secretive{Public: "pub"}
			if k.objects {
				want.private = "priv"
			}
			if got != want {
				t.Errorf("Get = %#v, want %#v", got, want)
			}
			// GetOrCreate's own caller gets what later hits get.
			got, err := cache.GetOrCreate(ctx, r, "created", func(context.Context) (secretive, error) {
				return secretive{"pub", "priv"}, nil
			})
			if err != nil || got != want {
				t.Errorf("GetOrCreate (the creator's call) = %#v, %v; want %#v", got, err, want)
			}
		})
	})

	t.Run("copies or shared values", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "xs", []int{1, 2, 3})
			mustGet[[]int](t, r, "xs")[0] = 99
			if got, shared := mustGet[[]int](t, r, "xs")[0], k.objects; (got == 99) != shared {
				t.Errorf("after modifying a value read, the next read has %d (shared values: %v)", got, shared)
			}
			first, err := cache.GetOrCreate(ctx, r, "made", func(context.Context) ([]int, error) { return []int{1}, nil })
			if err != nil {
				t.Fatal(err)
			}
			first[0] = 99
			again, err := cache.GetOrCreate(ctx, r, "made", func(context.Context) ([]int, error) { return []int{2}, nil })
			if err != nil || len(again) != 1 || (again[0] == 99) != k.objects {
				t.Errorf("after modifying the created value, a hit has %v, %v (shared values: %v)", again, err, k.objects)
			}
		})
	})

	t.Run("interface types", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			mustSet(t, r, "n", 42)
			var want any = float64(42) // what JSON decodes a number into
			if k.objects {
				want = 42 // the stored value as it is
			}
			if got := mustGet[any](t, r, "n"); got != want {
				t.Errorf("Get[any] = %#v, want %#v", got, want)
			}
		})
	})

	t.Run("values the codec cannot encode", func(t *testing.T) {
		eachKind(t, func(t *testing.T, k regionKind, r *cache.Region) {
			err := r.Set(ctx, "ch", make(chan int))
			if (err == nil) != k.objects {
				t.Errorf("Set(a channel) = %v (a region that keeps objects accepts it, the others refuse it)", err)
			}
		})
	})
}

// TestRoundTripHitsDecode checks that a RoundTrip region's hits go through
// the codec (they allocate), while a plain memory region's do not.
func TestRoundTripHitsDecode(t *testing.T) {
	ctx := context.Background()
	for _, rt := range []bool{false, true} {
		e := newEnv(t, false, cache.RegionOptions{RoundTrip: rt})
		creator := value("v") // bound once: no closure per call
		want(t, e.r, "k", creator, "v")
		allocs := testing.AllocsPerRun(100, func() { want(t, e.r, "k", creator, "v") })
		if (allocs == 0) == rt {
			t.Errorf("RoundTrip %v: a hit allocates %v times", rt, allocs)
		}
		if _, found, err := cache.Get[string](ctx, e.r, "k"); !found || err != nil {
			t.Errorf("RoundTrip %v: Get = %v, %v", rt, found, err)
		}
	}
}

// TestMemoryMapConcurrent has writers (Set, Delete) and lock-free readers
// work on one memory region at once, through table growth and eviction:
// every hit must hold its own key's value (run with -race).
func TestMemoryMapConcurrent(t *testing.T) {
	for _, maxEntries := range []int{0, 200} {
		e := newEnv(t, false, cache.RegionOptions{MaxEntries: maxEntries})
		ctx := context.Background()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 3000 {
					k := fmt.Sprint((i*7 + w) % 1500)
					if i%10 == 9 {
						_ = e.r.Delete(ctx, k)
					} else if err := e.r.Set(ctx, k, "v"+k); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Go(func() {
				for i := range 3000 {
					k := fmt.Sprint((i*13 + w) % 1500)
					if v, found, err := cache.Get[string](ctx, e.r, k); err != nil || found && v != "v"+k {
						t.Errorf("Get(%q) = %q, %v, %v", k, v, found, err)
					}
				}
			})
		}
		wg.Wait()
		for i := range 1500 { // then every key is there, unless evicted
			k := fmt.Sprint(i)
			if err := e.r.Set(ctx, k, "v"+k); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for i := range 1500 {
			if _, found, _ := cache.Get[string](ctx, e.r, fmt.Sprint(i)); found {
				n++
			}
		}
		if maxEntries == 0 && n != 1500 || maxEntries != 0 && (n == 0 || n > maxEntries) {
			t.Errorf("MaxEntries %d: %d of 1500 keys found", maxEntries, n)
		}
	}
}

// TestLongestExpire: an expire so long that expire plus its grace passes
// the longest Duration keeps values (the sum wrapped negative, and every
// value of a region with a store expired at once), for explicit graces
// too.
func TestLongestExpire(t *testing.T) {
	for _, ro := range []cache.RegionOptions{
		{Expire: time.Duration(math.MaxInt64 - 1)},
		{Expire: time.Duration(math.MaxInt64 / 2), Grace: time.Duration(math.MaxInt64/2 + 10)},
	} {
		kinds(t, ro, func(t *testing.T, e *env) {
			want(t, e.r, "k", value("v"), "v")
			e.clk.Advance(time.Hour)
			want(t, e.r, "k", mustNotRun(t), "v")
		})
	}
}
