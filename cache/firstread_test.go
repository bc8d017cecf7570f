package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// gatedGenerationStore fails every read of a region's generation record,
// each once gate is closed (or its context ends), and counts them: a
// backend down since the region started, whose reads hang until they time
// out.
type gatedGenerationStore struct {
	ms      *memstore.Store
	gate    chan struct{}
	reads   atomic.Int32
	healthy atomic.Bool // the backend is back: reads answer
}

func (g *gatedGenerationStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if !strings.Contains(key, "__generation__") {
		return g.ms.Get(ctx, key)
	}
	g.reads.Add(1)
	if g.healthy.Load() {
		return g.ms.Get(ctx, key)
	}
	select {
	case <-g.gate:
		return store.Entry{}, false, errStoreDown
	case <-ctx.Done():
		return store.Entry{}, false, ctx.Err()
	}
}

func (g *gatedGenerationStore) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return g.ms.Set(ctx, k, v, ttl)
}

func (g *gatedGenerationStore) Delete(ctx context.Context, k string) error {
	return g.ms.Delete(ctx, k)
}

// newGatedRegion is a region on a gatedGenerationStore, for a synctest
// bubble: its Manager and store close when the test ends.
func newGatedRegion(t *testing.T) (*cache.Region, *gatedGenerationStore) {
	ms := memstore.New(memstore.Options{JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	gs := &gatedGenerationStore{ms: ms, gate: make(chan struct{})}
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: gs, Expire: time.Minute}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r, _ := m.Region("r")
	return r, gs
}

// TestFirstGenerationReadIsShared: while a region's first read of its
// invalidation record hangs, the other callers wait for it, as long as
// their contexts allow, and share its failure: a backend down since the
// start costs them one failed read together, not one after another (the
// tenth caller used to wait out ten timeouts, deaf to its deadline, on a
// mutex: then the first synctest.Wait never returns, and the test times
// out).
func TestFirstGenerationReadIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, gs := newGatedRegion(t)

		const callers = 10
		errs := make(chan error, callers)
		for i := range callers {
			go func() {
				v, err := cache.GetOrCreate(context.Background(), r, fmt.Sprint("k", i), value("v"))
				if err == nil && v != "v" {
					err = fmt.Errorf("got %q", v)
				}
				errs <- err
			}()
		}
		synctest.Wait() // every caller waits for the first read
		if n := gs.reads.Load(); n != 1 {
			t.Fatalf("%d reads of the generation record under way, want 1", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() {
			_, err := cache.GetOrCreate(ctx, r, "impatient", value("v"))
			gaveUp <- err
		}()
		synctest.Wait() // it waits too
		cancel()
		synctest.Wait()
		select {
		case <-gaveUp:
		default:
			t.Fatal("a caller whose context ended still waits for the first read")
		}

		close(gs.gate) // the read fails
		for range callers {
			if err := <-errs; err != nil {
				t.Fatalf("a caller during the outage: %v, want its creator's value", err)
			}
		}
		if n := gs.reads.Load(); n != 1 {
			t.Fatalf("the callers made %d reads of the generation record, want the one they shared", n)
		}
	})
}

// TestFirstGenerationReadOfACallerThatGaveUp: when the caller making the
// first read gives up, a caller waiting for it reads the record itself
// rather than take the failure for an outage.
func TestFirstGenerationReadOfACallerThatGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, gs := newGatedRegion(t)

		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _ = cache.GetOrCreate(ctx, r, "impatient", value("v")) }()
		synctest.Wait() // its read hangs
		done := make(chan error, 1)
		go func() {
			v, err := cache.GetOrCreate(context.Background(), r, "k", value("v"))
			if err == nil && v != "v" {
				err = fmt.Errorf("got %q", v)
			}
			done <- err
		}()
		synctest.Wait() // the second caller waits for that read
		gs.healthy.Store(true)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := gs.reads.Load(); n != 2 {
			t.Fatalf("%d reads of the generation record, want 2: the one given up, and the waiter's own", n)
		}
		if _, found, err := cache.Get[string](context.Background(), r, "k"); !found || err != nil {
			t.Fatalf("the waiter's value was not stored (found %v, %v): it took its wait's end for an outage", found, err)
		}
	})
}

// panickingGenerationStore panics on its first read of the generation
// record, then answers from ms.
type panickingGenerationStore struct {
	gatedGenerationStore
	panicked atomic.Bool
}

func (p *panickingGenerationStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if strings.Contains(key, "__generation__") && p.panicked.CompareAndSwap(false, true) {
		<-p.gate
		panic("store bug")
	}
	return p.ms.Get(ctx, key)
}

// TestFirstGenerationReadThatPanics: a store whose first read of the
// generation record panics (a bug; net/http recovers the request) does not
// leave the callers waiting for it for ever: they read it themselves.
func TestFirstGenerationReadThatPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := memstore.New(memstore.Options{JanitorInterval: -1})
		t.Cleanup(func() { ms.Close() })
		ps := &panickingGenerationStore{gatedGenerationStore: gatedGenerationStore{ms: ms, gate: make(chan struct{})}}
		m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: ps, Expire: time.Minute}}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		r, _ := m.Region("r")
		go func() {
			defer func() { _ = recover() }()
			_, _ = cache.GetOrCreate(context.Background(), r, "first", value("v"))
		}()
		synctest.Wait() // the first read is under way
		done := make(chan error, 1)
		go func() {
			_, err := cache.GetOrCreate(context.Background(), r, "k", value("v"))
			done <- err
		}()
		synctest.Wait() // the second caller waits for it
		close(ps.gate)  // the read panics
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, found, err := cache.Get[string](context.Background(), r, "k"); !found || err != nil {
			t.Fatalf("the waiter's value was not stored (found %v, %v)", found, err)
		}
	})
}
