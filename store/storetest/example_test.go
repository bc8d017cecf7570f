package storetest_test

import (
	"testing"
	"time"

	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/storetest"
)

// A backend's test runs the whole suite on a store of its own; a store
// with an injected clock passes Advance, so that the expiry cases need no
// waiting.
func ExampleRun() {
	// In a backend's package:
	_ = func(t *testing.T) {
		now := time.Now()
		s := memstore.New(memstore.Options{Now: func() time.Time { return now }, JanitorInterval: -1})
		t.Cleanup(func() { s.Close() })
		storetest.Run(t, s, storetest.Options{Local: true, Advance: func(d time.Duration) { now = now.Add(d) }})
	}
}
