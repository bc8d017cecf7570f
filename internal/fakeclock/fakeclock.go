// Package fakeclock is a settable clock for tests: stores, session
// managers and cache regions take a Now func, and tests give them
// (*Clock).Now and move time with Advance instead of sleeping.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a fake clock, safe for concurrent use. Its zero value starts at
// the zero time; New starts it at a fixed, realistic instant.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock set to 2023-11-14 22:13:20 UTC (unix 1700000000).
func New() *Clock { return &Clock{now: time.Unix(1_700_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
