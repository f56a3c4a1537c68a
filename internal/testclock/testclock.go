// Package testclock is a clock that tests move by hand, for code that takes
// a now func() time.Time, so that no test waits on the wall clock.
package testclock

import (
	"sync"
	"time"
)

// Clock is a fake clock, safe for concurrent use. Its zero value stands at
// the zero time until advanced.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at 2026-01-01 00:00 UTC.
func New() *Clock { return &Clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
