package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// pauseKey marks the context of the caller whose reads pausingStore holds
// (and of the runs it starts, whose contexts come from the caller's).
type pauseKey struct{}

// pausingStore is a Store with no Locker. Its Get of a value (not of the
// region's generation record) for a context marked with pauseKey is
// counted in marked; the first pauses of them read, then hand the test a
// channel and wait for it to be closed before answering. With down set,
// every Get of a value fails.
type pausingStore struct {
	ms     *memstore.Store
	pauses atomic.Int32
	marked atomic.Int32
	down   atomic.Bool
}

var errStoreDown = errors.New("store down")

func (p *pausingStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	e, ok, err := p.ms.Get(ctx, key)
	value := !strings.Contains(key, "__generation__")
	if value && p.down.Load() {
		e, ok, err = store.Entry{}, false, errStoreDown
	}
	if reads, _ := ctx.Value(pauseKey{}).(chan chan struct{}); reads != nil && value {
		p.marked.Add(1)
		if p.pauses.Add(-1) >= 0 {
			resume := make(chan struct{})
			reads <- resume
			<-resume
		}
	}
	return e, ok, err
}

func (p *pausingStore) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return p.ms.Set(ctx, k, v, ttl)
}

func (p *pausingStore) Delete(ctx context.Context, k string) error { return p.ms.Delete(ctx, k) }

// pausedCall is a GetOrCreate of key by caller A, whose store reads pause
// as pausingStore says.
type pausedCall struct {
	reads chan chan struct{}
	done  chan error
}

func startPausedCall(r *cache.Region, key string, creator func(context.Context) (string, error)) *pausedCall {
	c := &pausedCall{reads: make(chan chan struct{}), done: make(chan error, 1)}
	ctx := context.WithValue(context.Background(), pauseKey{}, c.reads)
	go func() {
		_, err := cache.GetOrCreate(ctx, r, key, creator)
		c.done <- err
	}()
	return c
}

// finish lets every further paused read of the call go on, and returns its
// error.
func (c *pausedCall) finish() error {
	for {
		select {
		case resume := <-c.reads:
			close(resume)
		case err := <-c.done:
			return err
		}
	}
}

func newPausingRegion(t *testing.T) (*cache.Region, *pausingStore) {
	t.Helper()
	clk := fakeclock.New()
	ms := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	ps := &pausingStore{ms: ms}
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: ps, Expire: time.Minute}}, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r, _ := m.Region("r")
	return r, ps
}

// TestRunEndedSinceTheReadIsNotRepeated drives the window step by step:
// caller A reads K (missing), and before A looks for a run of K, B's whole
// run of K starts, stores the value and ends. A finds no run, but sees
// that one ended since its read: its own run must read K again before it
// creates, and find B's value, so that K's creator runs once. (A caller
// used to look again itself, but once only: a run of another key ending in
// the same window spent that look.)
func TestRunEndedSinceTheReadIsNotRepeated(t *testing.T) {
	r, ps := newPausingRegion(t)
	ps.pauses.Store(1)
	var runs atomic.Int32
	creator := func(context.Context) (string, error) { runs.Add(1); return "v", nil }

	a := startPausedCall(r, "K", creator)
	resume := <-a.reads // A has read K: missing
	if _, err := cache.GetOrCreate(context.Background(), r, "K", creator); err != nil {
		t.Fatal(err) // B: K's whole run, its value stored
	}
	close(resume)
	if err := a.finish(); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("K's creator ran %d times, want 1: B's run had stored the value before A looked for a run", n)
	}
}

// TestOutageCostsOneRead: while the backend fails every read, a call that
// sees another run end during its failed read does not read again (nor
// does its run): an outage costs a call one failed read, then the creator.
func TestOutageCostsOneRead(t *testing.T) {
	r, ps := newPausingRegion(t)
	ps.down.Store(true)
	ps.pauses.Store(1)
	a := startPausedCall(r, "K", value("v"))
	resume := <-a.reads // A's read of K has failed
	if v, err := cache.GetOrCreate(context.Background(), r, "other", value("o")); err != nil || v != "o" {
		t.Fatalf("another key's run during the outage: %q, %v", v, err)
	}
	close(resume)
	if err := a.finish(); err != nil {
		t.Fatal(err)
	}
	if n := ps.marked.Load(); n != 1 {
		t.Errorf("the call made %d reads of its key during the outage, want 1", n)
	}
}

// TestOutageLogsAValueThatDoesNotEncode: a created value that does not
// encode is logged during an outage too, as when its write fails.
func TestOutageLogsAValueThatDoesNotEncode(t *testing.T) {
	clk := fakeclock.New()
	ms := memstore.New(memstore.Options{Now: clk.Now, JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	ps := &pausingStore{ms: ms}
	ps.down.Store(true)
	var out bytes.Buffer
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{{Name: "r", Store: ps, Expire: time.Minute}},
		Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r, _ := m.Region("r")
	if _, err := cache.GetOrCreate(context.Background(), r, "k", func(context.Context) (func(), error) { return func() {}, nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "does not encode") {
		t.Fatalf("no warning of a value that does not encode:\n%s", out.String())
	}
}
