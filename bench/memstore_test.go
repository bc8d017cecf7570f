package bench

// memstore against otter: the figures behind the choice of memstore's
// engine (issue 8, issue 13). otterStore is the smallest memstore-like store
// that otter v2 allows: versions kept in the value, per-entry TTL through an
// ExpiryCalculator, Touch through SetExpiresAfter, and the same optimistic
// Update as memstore's (fn outside any lock, then a write conditional on the
// version, through Compute). It has no byte bound beside the entry bound
// (otter takes MaximumSize or MaximumWeight, not both), no Scan filter, no
// locks and no expired-first eviction: what it lacks is part of the
// comparison.
//
//	go test -run '^$' -bench 'Store' -cpu 1,2 -count 5 .
//	go test -run TestStoreFlood -v .

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/maypok86/otter/v2"
)

type otterItem struct {
	value   []byte // never modified in place
	version uint64
	ttl     time.Duration // 0: no expiry
}

type otterStore struct {
	c       *otter.Cache[string, *otterItem]
	version atomic.Uint64
}

func newOtterStore(tb testing.TB, maxEntries int) *otterStore {
	ttl := func(e otter.Entry[string, *otterItem]) time.Duration {
		if e.Value.ttl == 0 {
			return 100 * 365 * 24 * time.Hour
		}
		return e.Value.ttl
	}
	c, err := otter.New(&otter.Options[string, *otterItem]{
		MaximumSize:      maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(ttl),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.StopAllGoroutines() })
	return &otterStore{c: c}
}

func (s *otterStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	it, ok := s.c.GetIfPresent(key)
	if !ok {
		return store.Entry{}, false, nil
	}
	return store.Entry{Value: append([]byte(nil), it.value...), Version: store.Version(it.version)}, true, nil
}

func (s *otterStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.c.Set(key, &otterItem{value: append([]byte{}, value...), version: s.version.Add(1), ttl: ttl})
	return nil
}

func (s *otterStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if _, ok := s.c.GetIfPresent(key); !ok {
		return false, nil
	}
	s.c.SetExpiresAfter(key, ttl)
	return true, nil
}

func (s *otterStore) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	for {
		it, found := s.c.GetIfPresent(key)
		var cur []byte
		if found {
			cur = it.value
		}
		next, err := fn(cur, found)
		if err != nil {
			return err
		}
		written := false
		s.c.Compute(key, func(old *otterItem, ok bool) (*otterItem, otter.ComputeOp) {
			if ok != found || (ok && old != it) {
				return old, otter.CancelOp
			}
			written = true
			return &otterItem{value: next, version: s.version.Add(1), ttl: ttl}, otter.WriteOp
		})
		if written {
			return nil
		}
	}
}

// kv is what the comparison uses of a store.
type kv interface {
	Get(ctx context.Context, key string) (store.Entry, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Touch(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error
}

var kvCases = []struct {
	name string
	make func(tb testing.TB, maxEntries int) kv
}{
	{"memstore", func(tb testing.TB, maxEntries int) kv {
		s := memstore.New(memstore.Options{MaxEntries: maxEntries, JanitorInterval: -1, Logger: slog.New(slog.DiscardHandler)})
		tb.Cleanup(func() { s.Close() })
		return s
	}},
	{"otter", func(tb testing.TB, maxEntries int) kv { return newOtterStore(tb, maxEntries) }},
}

func kvFilled(b *testing.B, mk func(testing.TB, int) kv, size int) (kv, []string) {
	s := mk(b, 100_000)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "session:" + strconv.Itoa(i)
		if err := s.Set(context.Background(), keys[i], make([]byte, size), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys
}

func kvRewrite(cur []byte, found bool) ([]byte, error) {
	next := append([]byte(nil), cur...)
	if len(next) > 0 {
		next[0]++
	}
	return next, nil
}

func kvParallel(b *testing.B, op func(i int)) {
	var start atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(257))
		for pb.Next() {
			op(i)
			i++
		}
	})
}

// BenchmarkStoreGet: a hit on one of 1024 keys of 64 bytes, value copied.
func BenchmarkStoreGet(b *testing.B) {
	for _, c := range kvCases {
		b.Run(c.name, func(b *testing.B) {
			s, keys := kvFilled(b, c.make, 64)
			ctx := context.Background()
			kvParallel(b, func(i int) {
				if _, found, _ := s.Get(ctx, keys[i&1023]); !found {
					b.Fatal("miss")
				}
			})
		})
	}
}

// BenchmarkStoreUpdate: a read-modify-write of a 256-byte value.
func BenchmarkStoreUpdate(b *testing.B) {
	for _, c := range kvCases {
		b.Run(c.name, func(b *testing.B) {
			s, keys := kvFilled(b, c.make, 256)
			ctx := context.Background()
			kvParallel(b, func(i int) {
				if err := s.Update(ctx, keys[i&1023], store.Entry{}, time.Hour, kvRewrite); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkStoreMixed: 90% Get, 5% Touch, 5% Update of 256-byte values.
func BenchmarkStoreMixed(b *testing.B) {
	for _, c := range kvCases {
		b.Run(c.name, func(b *testing.B) {
			s, keys := kvFilled(b, c.make, 256)
			ctx := context.Background()
			kvParallel(b, func(i int) {
				k := keys[i&1023]
				switch i % 20 {
				case 0:
					_, _ = s.Touch(ctx, k, time.Hour)
				case 1:
					_ = s.Update(ctx, k, store.Entry{}, time.Hour, kvRewrite)
				default:
					_, _, _ = s.Get(ctx, k)
				}
			})
		})
	}
}

// BenchmarkStoreSetEvict: new keys into a full store of 10,000 entries.
func BenchmarkStoreSetEvict(b *testing.B) {
	for _, c := range kvCases {
		b.Run(c.name, func(b *testing.B) {
			s := c.make(b, 10_000)
			ctx := context.Background()
			v := make([]byte, 64)
			kvParallel(b, func(i int) {
				_ = s.Set(ctx, "k:"+strconv.Itoa(i<<20), v, time.Hour)
			})
		})
	}
}

// TestStoreFlood puts both engines through issue 8's scenario: a session
// used a dozen times, then 110,000 one-hit sessions into a store bounded at
// 100,000 entries; once into an empty store and once into a store already
// 60% full (otter, like Caffeine, counts uses only once it is half full).
// memstore must keep the session; otter's outcome is logged, for the record.
func TestStoreFlood(t *testing.T) {
	for _, prefill := range []int{0, 60_000} {
		for _, c := range kvCases {
			t.Run(fmt.Sprintf("%s/prefill=%d", c.name, prefill), func(t *testing.T) {
				s := c.make(t, 100_000)
				ctx := context.Background()
				for i := range prefill {
					_ = s.Set(ctx, "old:"+strconv.Itoa(i), []byte("o"), time.Hour)
				}
				if err := s.Set(ctx, "user", []byte("u"), time.Hour); err != nil {
					t.Fatal(err)
				}
				for range 12 {
					_, _, _ = s.Get(ctx, "user")
				}
				for i := range 110_000 {
					_ = s.Set(ctx, "anon:"+strconv.Itoa(i), []byte("a"), time.Hour)
				}
				o, isOtter := s.(*otterStore)
				if isOtter {
					o.c.CleanUp()
				}
				_, found, _ := s.Get(ctx, "user")
				t.Logf("%s, store %d%% full before: session used a dozen times kept: %v", c.name, prefill/1000, found)
				if !found && !isOtter {
					t.Errorf("%s evicted the session used a dozen times", c.name)
				}
			})
		}
	}
}
