package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// fixture is a store on a fake clock, without janitor, whose log is kept.
type fixture struct {
	t    *testing.T
	s    *memstore.Store
	clk  *fakeclock.Clock
	logs *strings.Builder
}

func newFixture(t *testing.T, opts memstore.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: fakeclock.New(), logs: &strings.Builder{}}
	opts.Now, opts.JanitorInterval = f.clk.Now, -1
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	f.s = memstore.New(opts)
	t.Cleanup(func() { f.s.Close() })
	return f
}

func (f *fixture) set(k string, v []byte, ttl time.Duration) {
	f.t.Helper()
	if err := f.s.Set(context.Background(), k, v, ttl); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) has(k string) bool {
	f.t.Helper()
	_, found, err := f.s.Get(context.Background(), k)
	if err != nil {
		f.t.Fatal(err)
	}
	return found
}

func (f *fixture) value(k string) string {
	f.t.Helper()
	e, found, err := f.s.Get(context.Background(), k)
	if err != nil || !found {
		f.t.Fatalf("Get(%q) = %v, %v; want a value", k, found, err)
	}
	return string(e.Value)
}

func (f *fixture) warnings() int { return strings.Count(f.logs.String(), "evicting live entries") }

func TestEvictionPrefersExpired(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxEntries: 3})
	f.set("old-session", []byte("a"), time.Hour) // least recently used, but live
	f.set("short", []byte("b"), time.Second)     // expires soon
	f.set("recent", []byte("c"), time.Hour)
	f.clk.Advance(2 * time.Second) // "short" has now expired, unread
	f.set("new", []byte("d"), time.Hour)
	if !f.has("old-session") {
		t.Fatal("a live entry was evicted while an expired one was there")
	}
	if f.warnings() != 0 || f.s.Evicted() != 0 {
		t.Fatalf("eviction of an expired entry counted as live (%d) or logged a warning: %s", f.s.Evicted(), f.logs)
	}
	// Now every entry is live: one goes, with a warning.
	f.set("newer", []byte("e"), time.Hour)
	if f.s.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", f.s.Len())
	}
	if f.s.Evicted() != 1 || f.warnings() != 1 {
		t.Fatalf("Evicted = %d, %d warnings; want 1 and 1; log: %q", f.s.Evicted(), f.warnings(), f.logs)
	}
}

// TestEvictionPrefersFrequent fills a small store with entries used once:
// the entry used several times stays although it is the least recently
// used, which least-recently-used eviction would drop first.
func TestEvictionPrefersFrequent(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxEntries: 10})
	f.set("user", []byte("u"), time.Hour)
	for range 5 {
		f.has("user")
	}
	for i := range 100 {
		f.set("anon:"+strconv.Itoa(i), []byte("x"), time.Hour)
	}
	if !f.has("user") {
		t.Fatal("the entry used 6 times was evicted by entries used once")
	}
	if f.s.Len() != 10 {
		t.Fatalf("Len = %d, want the bound 10", f.s.Len())
	}
	if !f.has("anon:99") {
		t.Fatal("the newest entry was not kept: the window must hold new entries")
	}
}

// TestFloodKeepsRegularUser is issue 8's scenario at the store: a session
// used a dozen times then left idle survives a flood of new one-hit
// sessions beyond the entry bound.
func TestFloodKeepsRegularUser(t *testing.T) {
	const ttl = 14 * 24 * time.Hour
	for _, c := range []struct{ max, flood int }{{0, 110_000}, {2000, 5000}} {
		t.Run(fmt.Sprint(c.max), func(t *testing.T) {
			f := newFixture(t, memstore.Options{MaxEntries: c.max})
			ctx := context.Background()
			create := func(cur []byte, found bool) ([]byte, error) { return []byte(`{"n":1}`), nil }
			if err := f.s.Update(ctx, "session:user", store.Entry{}, ttl, create); err != nil {
				t.Fatal(err)
			}
			for i := range 12 {
				f.clk.Advance(time.Minute)
				f.has("session:user")
				if i%4 == 0 {
					if err := f.s.Update(ctx, "session:user", store.Entry{}, ttl, rewrite); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range c.flood {
				if i%1000 == 0 {
					f.clk.Advance(time.Second)
				}
				if err := f.s.Update(ctx, "session:anon:"+strconv.Itoa(i), store.Entry{}, ttl, create); err != nil {
					t.Fatal(err)
				}
			}
			if !f.has("session:user") {
				t.Fatalf("the session used a dozen times was evicted by %d one-hit sessions", c.flood)
			}
			bound := c.max
			if bound == 0 {
				bound = memstore.DefaultMaxEntries
			}
			if n := f.s.Len(); n > bound {
				t.Fatalf("Len = %d, over the bound %d", n, bound)
			}
			if f.s.Evicted() < uint64(c.flood-bound) {
				t.Fatalf("Evicted = %d, want at least %d", f.s.Evicted(), c.flood-bound)
			}
			// The flood took seconds of fake time: one warning, not thousands.
			if f.warnings() != 1 {
				t.Fatalf("%d warnings, want 1 (rate-limited)", f.warnings())
			}
		})
	}
}

func TestWarningRateLimited(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxEntries: 2})
	for i := range 10 {
		f.set(strconv.Itoa(i), nil, 0)
	}
	if f.warnings() != 1 {
		t.Fatalf("%d warnings for 8 evictions at one instant, want 1", f.warnings())
	}
	f.clk.Advance(time.Minute)
	f.set("late", nil, 0)
	if f.warnings() != 2 {
		t.Fatalf("%d warnings after a minute, want 2; log: %s", f.warnings(), f.logs)
	}
	if !strings.Contains(f.logs.String(), "evicted=8 evicted_total=9") {
		t.Fatalf("the second warning does not count the evictions since the first: %s", f.logs)
	}
}

func TestByteBound(t *testing.T) {
	const maxBytes = 1 << 20
	f := newFixture(t, memstore.Options{MaxBytes: maxBytes})
	v := make([]byte, 64<<10)
	for i := range 100 {
		f.set("k"+strconv.Itoa(i), v, time.Hour)
		if b := f.s.Bytes(); b > maxBytes {
			t.Fatalf("after %d values of 64 KiB, Bytes = %d, over the bound %d", i+1, b, maxBytes)
		}
	}
	// Count what is really held, apart from the store's own accounting.
	held := 0
	err := f.s.Scan(context.Background(), "", func(k string) error {
		e, found, err := f.s.Get(context.Background(), k)
		if found {
			held += len(k) + len(e.Value)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if held > maxBytes || held < maxBytes/2 {
		t.Fatalf("%d bytes held, want at most %d and not much less", held, maxBytes)
	}
	if f.s.Evicted() == 0 || f.warnings() != 1 {
		t.Fatalf("Evicted = %d with %d warnings, want evictions and one warning", f.s.Evicted(), f.warnings())
	}
}

// TestGrowingUpdateKeepsItself: an update that takes the store over its
// byte bound evicts other entries, never the one written.
func TestGrowingUpdateKeepsItself(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxBytes: 1 << 20})
	for i := range 7 {
		f.set("k"+strconv.Itoa(i), make([]byte, 128<<10), time.Hour)
	}
	f.set("big", []byte("small"), time.Hour)
	err := f.s.Update(context.Background(), "big", store.Entry{}, time.Hour, func(cur []byte, found bool) ([]byte, error) {
		return make([]byte, 900<<10), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.value("big")); got != 900<<10 {
		t.Fatalf("the grown value has %d bytes, want %d", got, 900<<10)
	}
	if b := f.s.Bytes(); b > 1<<20 {
		t.Fatalf("Bytes = %d, over the bound", b)
	}
}

func TestValueTooLarge(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxBytes: 1 << 20})
	ctx := context.Background()
	big := make([]byte, 1<<20)
	if err := f.s.Set(ctx, "k", big, 0); !errors.Is(err, memstore.ErrValueTooLarge) {
		t.Fatalf("Set of a value over the bound: %v, want ErrValueTooLarge", err)
	}
	if f.has("k") {
		t.Fatal("a refused value was stored")
	}
	f.set("k", []byte("kept"), 0)
	err := f.s.Update(ctx, "k", store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) { return big, nil })
	if !errors.Is(err, memstore.ErrValueTooLarge) {
		t.Fatalf("Update to a value over the bound: %v, want ErrValueTooLarge", err)
	}
	if got := f.value("k"); got != "kept" {
		t.Fatalf("after a refused update the value is %q, want it unchanged", got)
	}
	// With the default bound, a value of 4 MiB less a little is always taken.
	d := newFixture(t, memstore.Options{})
	d.set("k", make([]byte, 4<<20-1024), 0)
}

// TestUpdateRunsFnWithoutLock calls the store from inside fn: reads and
// writes of other keys, and a write of the same key, which must make
// Update call fn again with the newer value. With fn run under a lock this
// test would deadlock.
func TestUpdateRunsFnWithoutLock(t *testing.T) {
	f := newFixture(t, memstore.Options{})
	ctx := context.Background()
	f.set("k", []byte("a"), 0)
	f.set("other", []byte("o"), 0)
	done := make(chan error, 1)
	var seen []string
	go func() {
		done <- f.s.Update(ctx, "k", store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) {
			seen = append(seen, string(cur))
			if len(seen) == 1 {
				before := string(cur)
				if _, _, err := f.s.Get(ctx, "other"); err != nil {
					return nil, err
				}
				if err := f.s.Set(ctx, "other", []byte("p"), 0); err != nil {
					return nil, err
				}
				// A concurrent writer replaces the value: cur must not change.
				if err := f.s.Set(ctx, "k", []byte("b"), 0); err != nil {
					return nil, err
				}
				if string(cur) != before {
					return nil, fmt.Errorf("cur changed from %q to %q under fn", before, cur)
				}
			}
			return append(append([]byte(nil), cur...), '+'), nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Update deadlocked: fn runs under a lock that Get or Set takes")
	}
	if want := []string{"a", "b"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("fn saw %q, want %q: a conflicting write must make Update call fn again", seen, want)
	}
	if got := f.value("k"); got != "b+" {
		t.Fatalf("value %q, want %q: the concurrent write was lost or fn's result applied twice", got, "b+")
	}
}

// TestUpdateCannotStarve: when every optimistic try meets a conflict,
// Update ends by running fn under the shard's lock.
func TestUpdateCannotStarve(t *testing.T) {
	f := newFixture(t, memstore.Options{})
	ctx := context.Background()
	f.set("k", []byte("0"), 0)
	calls := 0
	err := f.s.Update(ctx, "k", store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) {
		calls++
		if calls <= 8 { // a writer gets in during each optimistic try
			if err := f.s.Set(ctx, "k", []byte(strconv.Itoa(calls)), 0); err != nil {
				return nil, err
			}
		}
		return append(append([]byte(nil), cur...), '!'), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 9 {
		t.Fatalf("fn called %d times, want 8 optimistic tries and one under the lock", calls)
	}
	if got := f.value("k"); got != "8!" {
		t.Fatalf("value %q, want %q", got, "8!")
	}
}

// TestUpdateNoLostWrite races updates of big values, whose fn takes long,
// with small updates of the same keys: every increment must survive.
func TestUpdateNoLostWrite(t *testing.T) {
	f := newFixture(t, memstore.Options{})
	ctx := context.Background()
	const workers, rounds = 8, 50
	inc := func(pad int) store.UpdateFunc {
		return func(cur []byte, found bool) ([]byte, error) {
			n := 0
			if found {
				var err error
				if n, err = strconv.Atoi(digits(cur)); err != nil {
					return nil, err
				}
			}
			next := []byte(strconv.Itoa(n + 1))
			return append(next, make([]byte, pad)...), nil
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				pad := 0
				if (w+r)%4 == 0 {
					pad = 256 << 10
				}
				if err := f.s.Update(ctx, "k"+strconv.Itoa(r%3), store.Entry{}, 0, inc(pad)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for k := range 3 {
		n, err := strconv.Atoi(digits([]byte(f.value("k" + strconv.Itoa(k)))))
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != workers*rounds {
		t.Fatalf("%d increments stored, want %d", total, workers*rounds)
	}
}
func TestJanitorStopsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New(memstore.Options{JanitorInterval: time.Minute})
		if err := s.Set(context.Background(), "k", []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute + time.Second) // fake time: the janitor runs once
		synctest.Wait()
		if n := s.Len(); n != 0 {
			t.Fatalf("Len = %d after the janitor ran, want 0", n)
		}
		s.Close()
		s.Close() // idempotent
		// Leaving the bubble with the janitor still running would fail the test.
	})
}

func Example() {
	s := memstore.New(memstore.Options{MaxEntries: 10000})
	defer s.Close()
	ctx := context.Background()
	_ = s.Set(ctx, "greeting", []byte("hello"), time.Minute)
	e, found, err := s.Get(ctx, "greeting")
	fmt.Println(string(e.Value), found, err)
	// Output: hello true <nil>
}

// digits returns b up to its first zero byte.
func digits(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// An update that returns a small value in a large buffer (a record that
// shrank) is stored in a buffer of its own size: the store charges the
// length against its bound, so it must not keep the larger buffer alive.
func TestUpdateKeepsNoSpareCapacity(t *testing.T) {
	f := newFixture(t, memstore.Options{})
	ctx := context.Background()
	shrunk := func(cur []byte, found bool) ([]byte, error) {
		b := make([]byte, 0, 1<<20)
		return append(b, "small"...), nil
	}
	if err := f.s.Update(ctx, "k", store.Entry{}, time.Hour, shrunk); err != nil {
		t.Fatal(err)
	}
	e, found, err := f.s.GetShared(ctx, "k")
	if err != nil || !found || string(e.Value) != "small" {
		t.Fatalf("GetShared = %q, %v, %v; want small", e.Value, found, err)
	}
	if cap(e.Value) > 64 {
		t.Fatalf("the stored value keeps %d bytes of capacity for its %d", cap(e.Value), len(e.Value))
	}
}
