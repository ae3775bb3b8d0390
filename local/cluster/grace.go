package cluster

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// DefaultUnhealthyGrace is how long a running cluster's health check may
// fail (a node that does not answer within HealthTimeout, a frozen ILB)
// before it counts: a blip does not change what the cluster reports.
const DefaultUnhealthyGrace = 20 * time.Second

// healthTrack remembers, for one deployment (its instance), that it has
// been running and since when each of its checks has been failing.
type healthTrack struct {
	failing map[string]failure // by check ("ilb", "gateway", "node 2")
}

type failure struct {
	since time.Time
	err   string
}

// markRunning records that the deployment answered every check now.
func (d *Driver) markRunning(instance string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen[instance] = &healthTrack{failing: map[string]failure{}}
}

// wasRunning says whether the deployment has answered every check once
// since this Driver started (or was re-adopted by it).
func (d *Driver) wasRunning(instance string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[instance] != nil
}

// checks records one round of a running deployment's checks (nil: passed)
// and returns those that have failed for at least the grace period (by
// check) and all failing ones, described.
func (d *Driver) checks(instance string, results map[string]error) (expired map[string]bool, failing []string) {
	expired = map[string]bool{}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.seen[instance]
	if h == nil {
		h = &healthTrack{failing: map[string]failure{}}
		d.seen[instance] = h
	}
	for check, err := range results {
		if err == nil {
			delete(h.failing, check)
			continue
		}
		f, ok := h.failing[check]
		if !ok {
			f.since = now
		}
		f.err = err.Error()
		h.failing[check] = f
		line := fmt.Sprintf("%s does not answer its health check since %s: %s", check, f.since.UTC().Format(time.RFC3339), f.err)
		if now.Sub(f.since) >= d.cfg.UnhealthyGrace {
			expired[check] = true
			line += " (past the grace period of " + d.cfg.UnhealthyGrace.String() + ")"
		}
		failing = append(failing, line)
	}
	sort.Strings(failing)
	return expired, failing
}

func joinReasons(r []string) string { return strings.Join(r, "; ") }
