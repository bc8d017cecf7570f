package bench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"
)

// cacheKeys are the keys of the cache-hit benchmarks; every one is present.
var cacheKeys = func() []string {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
}()

// cacheValue is the 64-byte value behind every key.
var cacheValue = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

// hitCase is a cache filled with cacheKeys: get looks a key up (on the
// get-or-create path where the cache has one) and returns its value; misses
// tells how many lookups were not hits, checked after the timed loop so that
// it costs nothing per lookup.
type hitCase struct {
	name string
	make func(tb testing.TB) (get func(key string) []byte, misses func() int64)
}

// dogpileCase is a get-or-create whose creator is bound once: get returns the
// value of key, running the creator when it is missing.
type dogpileCase struct {
	name string
	make func(tb testing.TB, create func(key string) []byte) (get func(key string) ([]byte, error))
}

// hitCases and dogpileCases list the caches compared; cache_beaker_test.go
// adds beaker's.
var (
	hitCases = []hitCase{
		{name: "otter", make: otterHit},
		{name: "ristretto", make: ristrettoHit},
	}
	dogpileCases = []dogpileCase{
		{name: "otter", make: otterDogpile},
	}
)

func otterHit(tb testing.TB) (func(string) []byte, func() int64) {
	c, err := otter.New(&otter.Options[string, []byte]{MaximumSize: 4096})
	if err != nil {
		tb.Fatal(err)
	}
	var misses atomic.Int64
	loader := otter.LoaderFunc[string, []byte](func(ctx context.Context, key string) ([]byte, error) {
		misses.Add(1)
		return cacheValue, nil
	})
	for _, k := range cacheKeys {
		c.Set(k, cacheValue)
	}
	ctx := context.Background()
	get := func(key string) []byte {
		v, _ := c.Get(ctx, key, loader)
		return v
	}
	return get, misses.Load
}

func ristrettoHit(tb testing.TB) (func(string) []byte, func() int64) {
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        10 * 4096,
		MaxCost:            4096, // cost 1 per entry
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	for _, k := range cacheKeys {
		// A Set may be dropped (full buffer, admission): retry until it is in.
		for try := 0; ; try++ {
			if try == 100 {
				tb.Fatalf("ristretto does not keep %q", k)
			}
			c.Set(k, cacheValue, 1)
			c.Wait()
			if _, ok := c.Get(k); ok {
				break
			}
		}
	}
	var misses atomic.Int64
	get := func(key string) []byte {
		v, ok := c.Get(key)
		if !ok {
			misses.Add(1)
		}
		return v
	}
	return get, misses.Load
}

func otterDogpile(tb testing.TB, create func(string) []byte) func(string) ([]byte, error) {
	c, err := otter.New(&otter.Options[string, []byte]{MaximumSize: 1 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	loader := otter.LoaderFunc[string, []byte](func(ctx context.Context, key string) ([]byte, error) {
		return create(key), nil
	})
	ctx := context.Background()
	return func(key string) ([]byte, error) { return c.Get(ctx, key, loader) }
}

func TestCacheHits(t *testing.T) {
	for _, c := range hitCases {
		t.Run(c.name, func(t *testing.T) {
			get, misses := c.make(t)
			for _, k := range cacheKeys {
				if v := get(k); len(v) != len(cacheValue) {
					t.Fatalf("%q: got %q", k, v)
				}
			}
			if n := misses(); n != 0 {
				t.Fatalf("%d misses on present keys", n)
			}
		})
	}
}

// BenchmarkCacheHit looks up present keys (1024 keys, 64-byte values) on the
// get-or-create path where the cache has one.
func BenchmarkCacheHit(b *testing.B) {
	for _, c := range hitCases {
		b.Run("case="+c.name, func(b *testing.B) {
			get, misses := c.make(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				get(cacheKeys[i&1023])
				i++
			}
			if n := misses(); n != 0 {
				b.Fatalf("%d misses on present keys", n)
			}
		})
	}
}

// BenchmarkCacheHitParallel is BenchmarkCacheHit with b.RunParallel.
func BenchmarkCacheHitParallel(b *testing.B) {
	for _, c := range hitCases {
		b.Run("case="+c.name, func(b *testing.B) {
			get, misses := c.make(b)
			var start atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(start.Add(397))
				for pb.Next() {
					get(cacheKeys[i&1023])
					i++
				}
			})
			b.StopTimer()
			if n := misses(); n != 0 {
				b.Fatalf("%d misses on present keys", n)
			}
		})
	}
}

// dogpileCallers is how many goroutines ask for the same missing key at once.
const dogpileCallers = 1000

// dogpile has dogpileCallers goroutines get one missing key; the creator
// waits until all of them have been started, so they overlap. It returns how
// many times the creator ran.
type dogpile struct {
	runs    atomic.Int64
	arrived atomic.Int64
	gate    chan struct{} // closed when the last caller is about to call get
}

func (d *dogpile) create(key string) []byte {
	d.runs.Add(1)
	<-d.gate
	return cacheValue
}

// round runs one key through get with dogpileCallers concurrent callers and
// returns the first error or wrong value.
func (d *dogpile) round(get func(string) ([]byte, error), key string) error {
	d.arrived.Store(0)
	d.gate = make(chan struct{})
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	wg.Add(dogpileCallers)
	for range dogpileCallers {
		go func() {
			defer wg.Done()
			if d.arrived.Add(1) == dogpileCallers {
				close(d.gate)
			}
			v, err := get(key)
			if err == nil && len(v) != len(cacheValue) {
				err = errWrongValue
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

type benchError string

func (e benchError) Error() string { return string(e) }

const errWrongValue = benchError("get-or-create returned a wrong value")

func TestDogpile(t *testing.T) {
	for _, c := range dogpileCases {
		t.Run(c.name, func(t *testing.T) {
			d := &dogpile{}
			get := c.make(t, d.create)
			for i := range 5 {
				if err := d.round(get, "missing-"+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			if n := d.runs.Load(); n != 5 {
				t.Errorf("creator ran %d times for 5 keys under %d callers each", n, dogpileCallers)
			}
		})
	}
}

// BenchmarkGetOrCreateDogpile asks for one missing key from 1000 goroutines
// at once; ns/op is the time until all are answered, creator-runs/op how many
// times the creator ran (1 when the cache deduplicates).
func BenchmarkGetOrCreateDogpile(b *testing.B) {
	for _, c := range dogpileCases {
		b.Run("case="+c.name, func(b *testing.B) {
			d := &dogpile{}
			get := c.make(b, d.create)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := d.round(get, "missing-"+strconv.Itoa(n)); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(d.runs.Load())/float64(n), "creator-runs/op")
		})
	}
}
