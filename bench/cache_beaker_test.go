package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/cache"
)

// beaker's memory region joins the cache benchmarks of cache_test.go.
func init() {
	hitCases = append(hitCases, hitCase{name: "beaker-mem", make: beakerHit}, hitCase{name: "beaker-get", make: beakerGet})
	dogpileCases = append(dogpileCases, dogpileCase{name: "beaker-mem", make: beakerDogpile})
}

// beakerRegion returns a memory region, closed at the end of the test.
func beakerRegion(tb testing.TB) *cache.Region {
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "bench", Expire: time.Hour}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	r, ok := m.Region("bench")
	if !ok {
		tb.Fatal("no region bench")
	}
	return r
}

func beakerHit(tb testing.TB) (func(string) []byte, func() int64) {
	r := beakerFilled(tb)
	ctx := context.Background()
	var misses atomic.Int64
	creator := func(context.Context) ([]byte, error) { // bound once, as the docs advise
		misses.Add(1)
		return cacheValue, nil
	}
	get := func(key string) []byte {
		v, _ := cache.GetOrCreate(ctx, r, key, creator)
		return v
	}
	return get, misses.Load
}

// beakerFilled returns a memory region holding cacheValue under every one
// of cacheKeys.
func beakerFilled(tb testing.TB) *cache.Region {
	r := beakerRegion(tb)
	for _, k := range cacheKeys {
		if err := r.Set(context.Background(), k, cacheValue); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// beakerGet is beakerHit through cache.Get, the read that never creates.
func beakerGet(tb testing.TB) (func(string) []byte, func() int64) {
	r := beakerFilled(tb)
	ctx := context.Background()
	var misses atomic.Int64
	get := func(key string) []byte {
		v, ok, _ := cache.Get[[]byte](ctx, r, key)
		if !ok {
			misses.Add(1)
		}
		return v
	}
	return get, misses.Load
}

func beakerDogpile(tb testing.TB, create func(string) []byte) func(string) ([]byte, error) {
	r := beakerRegion(tb)
	ctx := context.Background()
	creator := func(context.Context) ([]byte, error) { return create(""), nil }
	return func(key string) ([]byte, error) { return cache.GetOrCreate(ctx, r, key, creator) }
}
