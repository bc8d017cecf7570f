package memstore_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// TestExpiryModel runs random writes on 40 keys of one store, each moving a
// key's expiry later, earlier, to never or to a first one (Set, Touch,
// Update, Delete), with the clock moving on, and checks the store against a
// model of when each key expires: Get and Touch find exactly the live keys,
// PurgeExpired removes exactly the expired ones, and Len is then the
// model's. The expiry heap is lazy about expiries moved later, so this is
// what keeps it from missing one moved earlier or one that came due.
func TestExpiryModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			f := newFixture(t, memstore.Options{})
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 7))
			now := func() time.Time { return f.clk.Now() }
			model := map[string]time.Time{} // key: when it expires (zero: never)
			live := func(k string) bool {
				exp, ok := model[k]
				return ok && (exp.IsZero() || exp.After(now()))
			}
			ttl := func() time.Duration {
				if rng.IntN(8) == 0 {
					return 0 // never expires
				}
				return time.Duration(1+rng.IntN(20)) * 500 * time.Millisecond
			}
			expires := func(d time.Duration) time.Time {
				if d == 0 {
					return time.Time{}
				}
				return now().Add(d)
			}
			for step := range 3000 {
				k := "k" + strconv.Itoa(rng.IntN(40))
				switch op := rng.IntN(10); {
				case op < 3:
					d := ttl()
					f.set(k, []byte("v"), d)
					model[k] = expires(d)
				case op < 5:
					d := ttl()
					found, err := f.s.Touch(ctx, k, d)
					if err != nil {
						t.Fatal(err)
					}
					if found != live(k) {
						t.Fatalf("step %d: Touch(%s) found %v, model says live %v", step, k, found, live(k))
					}
					if found {
						model[k] = expires(d)
					} else {
						delete(model, k)
					}
				case op < 7:
					d := ttl()
					err := f.s.Update(ctx, k, store.Entry{}, d, func(cur []byte, found bool) ([]byte, error) {
						if found != live(k) {
							t.Errorf("step %d: Update(%s) found %v, model says live %v", step, k, found, live(k))
						}
						return []byte("u"), nil
					})
					if err != nil {
						t.Fatal(err)
					}
					model[k] = expires(d)
				case op < 8:
					if err := f.s.Delete(ctx, k); err != nil {
						t.Fatal(err)
					}
					delete(model, k)
				default:
					f.clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
				}
				if step%50 != 49 {
					continue
				}
				var expired int
				for k := range model {
					if !live(k) {
						expired++
						delete(model, k)
					}
				}
				n, err := f.s.PurgeExpired(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n != expired {
					t.Fatalf("step %d: PurgeExpired removed %d entries, want %d", step, n, expired)
				}
				if f.s.Len() != len(model) {
					t.Fatalf("step %d: Len = %d after purging, want %d", step, f.s.Len(), len(model))
				}
				for i := range 40 {
					k := "k" + strconv.Itoa(i)
					if f.has(k) != live(k) {
						t.Fatalf("step %d: Get(%s) found %v, want %v", step, k, !live(k), live(k))
					}
				}
			}
		})
	}
}

// TestEvictionPrefersExpiredAfterChanges is TestEvictionPrefersExpired
// where the expired entry's expiry was moved: later, then earlier than
// ever, then (on another entry) from never to soon. Room is made by
// removing the expired entries, not a live one.
func TestEvictionPrefersExpiredAfterChanges(t *testing.T) {
	f := newFixture(t, memstore.Options{MaxEntries: 4})
	ctx := context.Background()
	f.set("old-session", []byte("a"), time.Hour) // least recently used, but live
	f.set("moved", []byte("b"), 10*time.Second)
	f.set("never", []byte("c"), 0)
	f.set("recent", []byte("d"), time.Hour)
	for _, d := range []time.Duration{time.Hour, 20 * time.Second, time.Second} {
		if found, err := f.s.Touch(ctx, "moved", d); err != nil || !found {
			t.Fatalf("Touch(moved, %v) = %v, %v", d, found, err)
		}
	}
	f.set("never", []byte("c"), time.Second)
	f.clk.Advance(2 * time.Second) // "moved" and "never" have now expired, unread
	f.set("new", []byte("e"), time.Hour)
	f.set("newer", []byte("f"), time.Hour)
	for _, k := range []string{"old-session", "recent", "new", "newer"} {
		if !f.has(k) {
			t.Fatalf("live entry %q was evicted while expired ones were there", k)
		}
	}
	if f.s.Evicted() != 0 || f.warnings() != 0 {
		t.Fatalf("Evicted = %d, %d warnings; want none: %s", f.s.Evicted(), f.warnings(), f.logs)
	}
}

// TestPurgeManyDueAtOnce: 20,000 entries come due at the same time, half of
// them expired and half with an expiry moved an hour later; one
// PurgeExpired removes exactly the expired half, although each shard takes
// them in batches under its lock.
func TestPurgeManyDueAtOnce(t *testing.T) {
	f := newFixture(t, memstore.Options{})
	ctx := context.Background()
	const n = 20000
	for i := range n {
		f.set("k"+strconv.Itoa(i), []byte("v"), time.Second)
	}
	for i := 0; i < n; i += 2 {
		if found, err := f.s.Touch(ctx, "k"+strconv.Itoa(i), time.Hour); err != nil || !found {
			t.Fatalf("Touch: %v, %v", found, err)
		}
	}
	f.clk.Advance(2 * time.Second)
	got, err := f.s.PurgeExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != n/2 || f.s.Len() != n/2 {
		t.Fatalf("PurgeExpired removed %d, Len %d; want %d and %d", got, f.s.Len(), n/2, n/2)
	}
	for i := range 10 {
		if f.has("k"+strconv.Itoa(2*i+1)) || !f.has("k"+strconv.Itoa(2*i)) {
			t.Fatalf("after the purge, k%d or k%d is wrong", 2*i, 2*i+1)
		}
	}
}

// TestExpiryAroundTheLimits: an entry written with a 1 s ttl expires a
// second later on a clock before 1970 too (a negative Unix time), and one
// written with the longest ttl a Duration holds does not expire at once.
func TestExpiryAroundTheLimits(t *testing.T) {
	ctx := context.Background()
	for _, start := range []time.Time{time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), time.Now()} {
		now := start
		s := memstore.New(memstore.Options{Now: func() time.Time { return now }, JanitorInterval: -1})
		t.Cleanup(func() { s.Close() })
		if err := s.Set(ctx, "short", []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "long", []byte("v"), time.Duration(1<<63-1)); err != nil {
			t.Fatal(err)
		}
		now = start.Add(time.Minute)
		if _, found, _ := s.Get(ctx, "short"); found {
			t.Errorf("clock at %v: an entry with a 1 s ttl is still there a minute later", start)
		}
		if _, found, _ := s.Get(ctx, "long"); !found {
			t.Errorf("clock at %v: an entry with the longest ttl expired", start)
		}
		if epoch := time.Unix(0, 0); start.Before(epoch) {
			// An entry that expires at the epoch: its expiry, 0, is not
			// "never".
			now = start
			if err := s.Set(ctx, "epoch", []byte("v"), epoch.Sub(start)); err != nil {
				t.Fatal(err)
			}
			now = epoch.Add(time.Minute)
			if _, found, _ := s.Get(ctx, "epoch"); found {
				t.Errorf("clock at %v: an entry that expired at the epoch is still there a minute later", start)
			}
		}
	}
}
