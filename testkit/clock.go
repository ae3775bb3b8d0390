package testkit

import (
	"sync"
	"time"
)

// Clock is a test clock safe for concurrent use: it stands still until
// moved (NewClock), or follows the real time plus what was added
// (NewLiveClock), for code that also waits on real timers.
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	live bool
}

// NewClock returns a clock standing at t0.
func NewClock(t0 time.Time) *Clock { return &Clock{t: t0} }

// NewLiveClock returns a clock that runs with the real time.
func NewLiveClock() *Clock { return &Clock{live: true} }

// Now is the clock's time; pass the method value as a Now func.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now().Add(c.t.Sub(time.Time{}))
	}
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts a standing clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		panic("testkit: Set on a live clock")
	}
	c.t = t
}
