package cache_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// pauseKey marks the context of the caller whose reads pausingStore holds.
type pauseKey struct{}

// pausingStore is a Store with no Locker whose Get of a value (not of the
// region's generation record), for a context marked with pauseKey, reads
// and then hands the test a channel and waits for it to be closed before
// answering, at most pauses times.
type pausingStore struct {
	ms     *memstore.Store
	pauses atomic.Int32
}

func (p *pausingStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	e, ok, err := p.ms.Get(ctx, key)
	if reads, _ := ctx.Value(pauseKey{}).(chan chan struct{}); reads != nil && !strings.Contains(key, "__generation__") && p.pauses.Add(-1) >= 0 {
		resume := make(chan struct{})
		reads <- resume
		<-resume
	}
	return e, ok, err
}

func (p *pausingStore) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return p.ms.Set(ctx, k, v, ttl)
}

func (p *pausingStore) Delete(ctx context.Context, k string) error { return p.ms.Delete(ctx, k) }

// TestLookAgainAsOftenAsRunsEnd drives the interleaving that made a second
// run of a key whose value was already stored: caller A reads K (missing);
// another key's run ends before A looks for a run of K; A reads K again
// (missing), and K's whole run, B's, starts and ends before A looks again.
// A must find the value B stored, not run K's creator a second time. (A
// caller used to look again only once, and another key's run spent it; a
// region without a cross-process lock does not read again inside the run.)
func TestLookAgainAsOftenAsRunsEnd(t *testing.T) {
	clk := fakeclock.New()
	ms := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	ps := &pausingStore{ms: ms}
	ps.pauses.Store(2)
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: ps, Expire: time.Minute}}, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r, _ := m.Region("r")
	bg := context.Background()
	var runs atomic.Int32
	creator := func(context.Context) (string, error) { runs.Add(1); return "v", nil }

	reads := make(chan chan struct{})
	done := make(chan error)
	go func() {
		_, err := cache.GetOrCreate(context.WithValue(bg, pauseKey{}, reads), r, "K", creator)
		done <- err
	}()
	resume := <-reads // A has read K: missing
	if _, err := cache.GetOrCreate(bg, r, "other", value("o")); err != nil {
		t.Fatal(err)
	}
	close(resume) // A finds no run of K, and a run ended: it reads again
	select {
	case resume = <-reads: // A has read K again: missing
	case err := <-done:
		t.Fatalf("A did not read K again after a run ended (it returned %v, after %d runs of K)", err, runs.Load())
	}
	if _, err := cache.GetOrCreate(bg, r, "K", creator); err != nil {
		t.Fatal(err) // B: K's whole run, its value stored
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("K's creator ran %d times, want 1: B's run had stored the value before A looked for a run", n)
	}
}
