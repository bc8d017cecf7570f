package memstore_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// The benchmarks run with b.RunParallel, so that `-cpu 1,2,4` shows how the
// store scales with cores; `-mutexprofile` shows where goroutines wait.

const benchKeys = 1024

func benchStore(b *testing.B, opts memstore.Options, valueSize int) (*memstore.Store, []string) {
	b.Helper()
	opts.JanitorInterval = -1
	s := memstore.New(opts)
	b.Cleanup(func() { s.Close() })
	keys := make([]string, benchKeys)
	v := make([]byte, valueSize)
	for i := range keys {
		keys[i] = "session:" + strconv.Itoa(i)
		if err := s.Set(context.Background(), keys[i], v, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys
}

// offsets gives each parallel goroutine its own starting key.
type offsets struct{ n atomic.Int64 }

func (o *offsets) next() int { return int(o.n.Add(257)) }

// BenchmarkGet is a hit on one of 1024 keys holding 64 bytes.
func BenchmarkGet(b *testing.B) {
	s, keys := benchStore(b, memstore.Options{}, 64)
	ctx := context.Background()
	var o offsets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next()
		for pb.Next() {
			if _, found, _ := s.Get(ctx, keys[i&(benchKeys-1)]); !found {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkTouch extends the expiry of one of 1024 keys.
func BenchmarkTouch(b *testing.B) {
	s, keys := benchStore(b, memstore.Options{}, 64)
	ctx := context.Background()
	var o offsets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next()
		for pb.Next() {
			if found, _ := s.Touch(ctx, keys[i&(benchKeys-1)], time.Hour); !found {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// rewrite is an UpdateFunc that copies cur and changes its first byte, as a
// session save re-encodes its record.
func rewrite(cur []byte, found bool) ([]byte, error) {
	next := append([]byte(nil), cur...)
	if len(next) > 0 {
		next[0]++
	}
	return next, nil
}

func benchUpdate(b *testing.B, valueSize int) {
	s, keys := benchStore(b, memstore.Options{}, valueSize)
	ctx := context.Background()
	var o offsets
	b.SetBytes(int64(valueSize))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next()
		for pb.Next() {
			if err := s.Update(ctx, keys[i&(benchKeys-1)], store.Entry{}, time.Hour, rewrite); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkUpdate rewrites a 64-byte value.
func BenchmarkUpdate(b *testing.B) { benchUpdate(b, 64) }

// BenchmarkUpdate64K rewrites a 64 KiB value: the time fn takes dominates,
// so it shows whether fn runs under a lock that other updates wait on.
func BenchmarkUpdate64K(b *testing.B) { benchUpdate(b, 64<<10) }

// BenchmarkMixed is a session-like mix on 1024 keys: 90% Get, 5% Touch,
// 5% Update.
func BenchmarkMixed(b *testing.B) {
	s, keys := benchStore(b, memstore.Options{}, 256)
	ctx := context.Background()
	var o offsets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next()
		for pb.Next() {
			k := keys[i&(benchKeys-1)]
			switch i % 20 {
			case 0:
				if _, err := s.Touch(ctx, k, time.Hour); err != nil {
					b.Error(err)
					return
				}
			case 1:
				if err := s.Update(ctx, k, store.Entry{}, time.Hour, rewrite); err != nil {
					b.Error(err)
					return
				}
			default:
				if _, _, err := s.Get(ctx, k); err != nil {
					b.Error(err)
					return
				}
			}
			i++
		}
	})
}

// BenchmarkSetEvict inserts new keys into a full store (10,000 entries), so
// that every Set evicts one entry.
func BenchmarkSetEvict(b *testing.B) {
	s := memstore.New(memstore.Options{MaxEntries: 10000, JanitorInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	v := make([]byte, 64)
	var o offsets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next() << 32
		for pb.Next() {
			if err := s.Set(ctx, "k:"+strconv.Itoa(i), v, time.Hour); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkGetWhileLargeUpdate reads small sessions while one goroutine
// keeps rewriting a 1 MiB session (a big record being re-encoded): with a
// store-wide lock held during fn, every read waits for the copy.
func BenchmarkGetWhileLargeUpdate(b *testing.B) {
	s, keys := benchStore(b, memstore.Options{}, 64)
	ctx := context.Background()
	if err := s.Set(ctx, "big", make([]byte, 1<<20), time.Hour); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Update(ctx, "big", store.Entry{}, time.Hour, rewrite); err != nil {
				b.Error(err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	var o offsets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := o.next()
		for pb.Next() {
			if _, found, _ := s.Get(ctx, keys[i&(benchKeys-1)]); !found {
				b.Error("miss")
				return
			}
			i++
		}
	})
	b.StopTimer()
}

// BenchmarkRequestAtScale is what a session request does to the store,
// GetShared then Update of that entry (its expiry moved an hour ahead), on
// stores holding 1024 and 80,000 sessions (the default bound is 100,000) of 256
// bytes, visited in a scattered order: it shows what a request's store work
// costs once the entries no longer fit in the CPU's caches.
func BenchmarkRequestAtScale(b *testing.B) {
	for _, n := range []int{1024, 80000} {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			s := memstore.New(memstore.Options{JanitorInterval: -1})
			b.Cleanup(func() { s.Close() })
			ctx := context.Background()
			keys := make([]string, n)
			v := make([]byte, 256)
			for i := range keys {
				keys[i] = "session:" + strconv.Itoa(i*7919)
				if err := s.Set(ctx, keys[i], v, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			var o offsets
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := o.next() * 7919
				for pb.Next() {
					k := keys[i%n]
					e, found, err := s.GetShared(ctx, k)
					if err != nil || !found {
						b.Errorf("get %s: %v, %v", k, found, err)
						return
					}
					if err := s.Update(ctx, k, e, time.Hour, rewrite); err != nil {
						b.Error(err)
						return
					}
					i += 7919
				}
			})
		})
	}
}
