package github

import (
	"sync"
	"time"
)

// deviceFlows remembers, per device code, what GitHub says only once: the
// polling interval (at the start and on slow_down), and the access token
// of a flow whose user could not be looked up yet (GitHub down right after
// the exchange), so that the next poll retries the lookup instead of
// sending the user back to the start. It lives in memory: an instance that
// did not see a flow falls back to GitHub's minimum interval.
type deviceFlows struct {
	mu sync.Mutex
	m  map[string]deviceFlow
}

type deviceFlow struct {
	interval time.Duration
	expires  time.Time
	token    string
}

// maxTrackedDevices bounds the memory a flood of StartDevice calls can take;
// beyond it, new flows are not tracked.
const maxTrackedDevices = 10000

// pendingTokenTTL is how long a token waits for its lookup to be retried.
const pendingTokenTTL = 15 * time.Minute

func (d *deviceFlows) set(code string, interval time.Duration, expires time.Time) {
	d.update(code, expires, func(f *deviceFlow) { f.interval = interval })
}

// raise lengthens the interval of a known flow, as slow_down demands.
func (d *deviceFlows) raise(code string, interval time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.m[code]; ok && interval > f.interval {
		f.interval = interval
		d.m[code] = f
	}
}

// keepToken holds the access token of an exchanged flow for a retry.
func (d *deviceFlows) keepToken(code, token string) {
	until := time.Now().Add(pendingTokenTTL)
	d.update(code, until, func(f *deviceFlow) {
		f.token = token
		f.expires = until // however soon the device code itself expires
	})
}

func (d *deviceFlows) get(code string) (deviceFlow, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.m[code]
	if ok && time.Now().After(f.expires) {
		delete(d.m, code)
		return deviceFlow{}, false
	}
	return f, ok
}

func (d *deviceFlows) forget(code string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, code)
}

// update applies f to the flow, creating it (if there is room) with the
// given expiry.
func (d *deviceFlows) update(code string, expires time.Time, f func(*deviceFlow)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	flow, ok := d.m[code]
	if !ok {
		if len(d.m) >= maxTrackedDevices {
			d.prune()
		}
		if len(d.m) >= maxTrackedDevices {
			return
		}
		flow.expires = expires
	}
	f(&flow)
	d.m[code] = flow
}

func (d *deviceFlows) prune() {
	now := time.Now()
	for k, v := range d.m {
		if now.After(v.expires) {
			delete(d.m, k)
		}
	}
}
