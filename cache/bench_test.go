package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/store/memstore"
)

func benchRegion(b *testing.B, ro cache.RegionOptions) *cache.Region {
	b.Helper()
	ro.Name = "bench"
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{ro}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	r, _ := m.Region("bench")
	return r
}

// load is a creator bound once: no closure is built per call.
func load(context.Context) (string, error) { return "value", nil }

// BenchmarkGetOrCreateHit is the memory region's hit path.
func BenchmarkGetOrCreateHit(b *testing.B) {
	r := benchRegion(b, cache.RegionOptions{Expire: time.Hour})
	ctx := context.Background()
	if _, err := cache.GetOrCreate(ctx, r, "key", load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.GetOrCreate(ctx, r, "key", load); err != nil {
			b.Fatal(err)
		}
	}
}

// filled returns a region holding 1024 keys, each with the value "value".
func filled(b *testing.B) (*cache.Region, []string) {
	r := benchRegion(b, cache.RegionOptions{Expire: time.Hour})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
		if err := r.Set(context.Background(), keys[i], "value"); err != nil {
			b.Fatal(err)
		}
	}
	return r, keys
}

// readParallel calls read with the 1024 keys in turn from every P, each
// starting elsewhere, until read fails or the benchmark ends.
func readParallel(b *testing.B, keys []string, read func(key string) error) {
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(257))
		for pb.Next() {
			if err := read(keys[i&1023]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkGetOrCreateHitParallel reads 1024 keys from every P.
func BenchmarkGetOrCreateHitParallel(b *testing.B) {
	r, keys := filled(b)
	ctx := context.Background()
	readParallel(b, keys, func(key string) error {
		_, err := cache.GetOrCreate(ctx, r, key, load)
		return err
	})
}

// BenchmarkGetHitParallel is BenchmarkGetOrCreateHitParallel through
// Get, the read that never creates.
func BenchmarkGetHitParallel(b *testing.B) {
	r, keys := filled(b)
	ctx := context.Background()
	readParallel(b, keys, func(key string) error {
		if _, ok, err := cache.Get[string](ctx, r, key); !ok || err != nil {
			return fmt.Errorf("Get(%s): %v, %v", key, ok, err)
		}
		return nil
	})
}

// BenchmarkGetHitParallelAfterClose is BenchmarkGetHitParallel on a region
// whose Manager is closed: its clock no longer ticks, and a hit reads the
// time itself, without taking the clock's lock.
func BenchmarkGetHitParallelAfterClose(b *testing.B) {
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "bench", Expire: time.Hour}}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	r, _ := m.Region("bench")
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
		if err := r.Set(ctx, keys[i], "value"); err != nil {
			b.Fatal(err)
		}
	}
	m.Close()
	readParallel(b, keys, func(key string) error {
		if _, ok, err := cache.Get[string](ctx, r, key); !ok || err != nil {
			return fmt.Errorf("Get(%s) after Close: %v, %v", key, ok, err)
		}
		return nil
	})
}

// BenchmarkStaleParallel reads 1024 stale keys from every P while each
// one's regeneration is under way (after a soft invalidation): every read
// looks up the key's run and is served the stale value.
func BenchmarkStaleParallel(b *testing.B) {
	r, keys := filled(b)
	ctx := context.Background()
	if err := r.Invalidate(ctx, cache.Soft); err != nil {
		b.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	regenerate := func(context.Context) (string, error) {
		started <- struct{}{}
		<-release
		return "new", nil
	}
	b.Cleanup(func() { close(release) })
	for _, k := range keys {
		go func() { _, _ = cache.GetOrCreate(ctx, r, k, regenerate) }()
		<-started // k's run is under way
	}
	readParallel(b, keys, func(key string) error {
		if v, err := cache.GetOrCreate(ctx, r, key, regenerate); v != "value" || err != nil {
			return fmt.Errorf("GetOrCreate(%s) = %q, %v; want the stale value", key, v, err)
		}
		return nil
	})
}

// BenchmarkRemoteHit is a hit through the store interface (one Get and one
// JSON decode), on a memstore.Store.
func BenchmarkRemoteHit(b *testing.B) {
	st := memstore.New(memstore.Options{})
	b.Cleanup(func() { st.Close() })
	r := benchRegion(b, cache.RegionOptions{Store: st, Expire: time.Hour})
	ctx := context.Background()
	if _, err := cache.GetOrCreate(ctx, r, "key", load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.GetOrCreate(ctx, r, "key", load); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetOrCreateMissConcurrent has 1000 callers ask for one missing
// key at once, per iteration; creator-runs/op should be 1.
func BenchmarkGetOrCreateMissConcurrent(b *testing.B) {
	const callers = 1000
	r := benchRegion(b, cache.RegionOptions{Expire: time.Hour})
	ctx := context.Background()
	var runs atomic.Int64
	creator := func(context.Context) (int, error) { runs.Add(1); return 1, nil }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := "miss:" + strconv.Itoa(i)
		i++
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				if _, err := cache.GetOrCreate(ctx, r, key, creator); err != nil {
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	b.ReportMetric(float64(runs.Load())/float64(b.N), "creator-runs/op")
}
