package memstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/storetest"
)

func TestConformance(t *testing.T) {
	c := fakeclock.New()
	s := memstore.New(memstore.Options{Now: c.Now, JanitorInterval: -1})
	t.Cleanup(func() { s.Close() })
	storetest.Run(t, s, storetest.Options{Advance: c.Advance})
}

func TestConformanceRealClock(t *testing.T) {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	storetest.Run(t, s, storetest.Options{TTL: 50 * time.Millisecond})
}

func TestEvictionPrefersExpired(t *testing.T) {
	c := fakeclock.New()
	var logs strings.Builder
	s := memstore.New(memstore.Options{
		MaxEntries: 3, JanitorInterval: -1, Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	defer s.Close()
	ctx := context.Background()
	mustSet := func(k string, ttl time.Duration) {
		t.Helper()
		if err := s.Set(ctx, k, []byte(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	has := func(k string) bool {
		t.Helper()
		_, found, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	mustSet("old-session", time.Hour) // least recently used, but live
	mustSet("short", time.Second)     // expires soon
	mustSet("recent", time.Hour)
	c.Advance(2 * time.Second) // "short" has now expired, unread
	mustSet("new", time.Hour)
	if !has("old-session") {
		t.Fatal("a live entry was evicted while an expired one was there")
	}
	if logs.Len() != 0 {
		t.Fatalf("eviction of an expired entry logged a warning: %s", logs.String())
	}
	// Now every entry is live: the least recently used goes, with a warning.
	has("recent")
	has("new")
	mustSet("newer", time.Hour)
	if has("old-session") {
		t.Fatal("the least recently used entry was kept when the store was full")
	}
	for _, k := range []string{"recent", "new", "newer"} {
		if !has(k) {
			t.Fatalf("%q was evicted instead of the least recently used entry", k)
		}
	}
	if !strings.Contains(logs.String(), "evicting a live entry") {
		t.Fatalf("no warning logged on evicting a live entry; log: %q", logs.String())
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", s.Len())
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
