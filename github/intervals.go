package github

import (
	"sync"
	"time"
)

// deviceIntervals remembers the polling interval of each device flow, since
// GitHub states it only when the flow starts and on slow_down.
type deviceIntervals struct {
	mu sync.Mutex
	m  map[string]deviceInterval
}

type deviceInterval struct {
	interval time.Duration
	expires  time.Time
}

// maxTrackedDevices bounds the memory a flood of StartDevice calls can take;
// beyond it, polls fall back to the default interval.
const maxTrackedDevices = 10000

func (d *deviceIntervals) set(code string, interval time.Duration, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if len(d.m) >= maxTrackedDevices {
		for k, v := range d.m {
			if now.After(v.expires) {
				delete(d.m, k)
			}
		}
	}
	if _, ok := d.m[code]; ok || len(d.m) < maxTrackedDevices {
		d.m[code] = deviceInterval{interval, expires}
	}
}

// raise lengthens the interval of a known flow, as slow_down demands.
func (d *deviceIntervals) raise(code string, interval time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.m[code]; ok && interval > v.interval {
		v.interval = interval
		d.m[code] = v
	}
}

func (d *deviceIntervals) get(code string) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.m[code]
	return v.interval, ok
}

func (d *deviceIntervals) forget(code string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, code)
}
