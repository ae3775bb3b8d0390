package testkit

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(t0)
	c.Add(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("standing clock: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: %v", got)
	}
	live := NewLiveClock()
	live.Add(48 * time.Hour)
	if d := time.Until(live.Now()); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("live clock is %v ahead, want 48h", d)
	}
}
