package cache

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// clockRunning reports whether m's coarse clock goroutine runs.
func clockRunning(m *Manager) bool {
	m.clockMu.Lock()
	defer m.clockMu.Unlock()
	return m.clockOn
}

func load(context.Context) (string, error) { return "v", nil }

// TestClockStopsWhenIdle counts the coarse clock's ticks in a synctest
// bubble (fake time): none without regions or reads, none while idle after
// about a second, and the next read restarts it with the current time.
func TestClockStopsWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No regions, no reads: the clock never starts.
		empty, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if clockRunning(empty) || empty.ticks.Load() != 0 {
			t.Fatalf("a Manager without reads ran its clock (%d ticks)", empty.ticks.Load())
		}
		empty.Close()

		m, err := New(Options{Regions: []RegionOptions{{Name: "r", Expire: time.Second}}})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r, _ := m.Region("r")
		ctx := context.Background()
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := GetOrCreate(ctx, r, "k", load); err != nil { // a hit reads the clock
			t.Fatal(err)
		}
		if !clockRunning(m) {
			t.Fatal("the clock did not start on the first read")
		}
		// Reads every 100ms for 3s keep it running.
		for range 30 {
			time.Sleep(100 * time.Millisecond)
			if _, err := GetOrCreate(ctx, r, "k", load); err != nil {
				t.Fatal(err)
			}
		}
		if !clockRunning(m) {
			t.Fatal("the clock stopped while reads went on")
		}
		// Idle: it stops within about two idle periods, then ticks no more.
		time.Sleep(2*idleTicks*tick + 10*tick)
		if clockRunning(m) {
			t.Fatal("the clock still runs after 2s without reads")
		}
		idle := m.ticks.Load()
		time.Sleep(20 * time.Second)
		if n := m.ticks.Load() - idle; n != 0 {
			t.Fatalf("the clock ticked %d times in 20 idle seconds", n)
		}
		// The value (Expire 1s) went stale meanwhile: the read after the
		// idle period must see the current time, not the last tick's.
		if _, found, _ := Get[string](ctx, r, "k"); found {
			t.Fatal("Get after an idle period returned an expired value")
		}
		if !clockRunning(m) {
			t.Fatal("a read after the idle period did not restart the clock")
		}
		before := m.ticks.Load()
		time.Sleep(50 * tick)
		if m.ticks.Load() == before {
			t.Fatal("the restarted clock does not tick")
		}
		m.Close()
		if clockRunning(m) {
			t.Fatal("Close left the clock running")
		}
		// After Close a read does not restart it.
		if _, _, err := Get[string](ctx, r, "k"); err != nil {
			t.Fatal(err)
		}
		if clockRunning(m) {
			t.Fatal("a read after Close restarted the clock")
		}
	})
}

// TestHitMakesNoClockCall checks that a hit while the clock runs reads the
// coarse clock only, and allocates nothing.
func TestHitMakesNoClockCall(t *testing.T) {
	m, err := New(Options{Regions: []RegionOptions{{Name: "r", Expire: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	calls := 0
	m.nowFn = func() time.Time { calls++; return time.Now() } // coarseOn stays true
	r, _ := m.Region("r")
	ctx := context.Background()
	for range 2 { // a miss (which stores the value without reading the clock), then a hit
		if _, err := GetOrCreate(ctx, r, "k", load); err != nil {
			t.Fatal(err)
		}
	}
	if !clockRunning(m) {
		t.Fatal("the clock did not start on the first read")
	}
	calls = 0 // only this goroutine calls nowFn: the clock goroutine does not
	allocs := testing.AllocsPerRun(1000, func() {
		if v, err := GetOrCreate(ctx, r, "k", load); err != nil || v != "v" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	})
	if allocs != 0 {
		t.Errorf("a hit allocates %v times", allocs)
	}
	if calls != 0 {
		t.Errorf("1000 hits called the precise clock %d times", calls)
	}
}
