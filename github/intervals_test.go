package github

import (
	"fmt"
	"testing"
	"time"
)

func TestDeviceIntervalsBounded(t *testing.T) {
	d := deviceIntervals{m: make(map[string]deviceInterval)}
	past := time.Now().Add(-time.Minute)
	for i := range maxTrackedDevices {
		d.set(fmt.Sprint(i), defaultInterval, past)
	}
	// Full: expired flows make room for a new one.
	d.set("new", 7*time.Second, time.Now().Add(time.Minute))
	if got, ok := d.get("new"); !ok || got != 7*time.Second {
		t.Fatalf("new flow = %v, %v", got, ok)
	}
	if len(d.m) != 1 {
		t.Errorf("%d flows kept, want 1", len(d.m))
	}
	d.raise("new", 12*time.Second)
	d.raise("new", 3*time.Second) // never lowered
	d.raise("unknown", 12*time.Second)
	if got, _ := d.get("new"); got != 12*time.Second {
		t.Errorf("after raise: %v", got)
	}
	if _, ok := d.get("unknown"); ok {
		t.Error("raise created a flow")
	}
	d.forget("new")
	if _, ok := d.get("new"); ok {
		t.Error("forget kept the flow")
	}
}
