package github

import (
	"fmt"
	"testing"
	"time"
)

func TestDeviceFlowsBounded(t *testing.T) {
	d := deviceFlows{m: make(map[string]deviceFlow)}
	past := time.Now().Add(-time.Minute)
	for i := range maxTrackedDevices {
		d.set(fmt.Sprint(i), defaultInterval, past)
	}
	// Full: expired flows make room for a new one.
	d.set("new", 7*time.Second, time.Now().Add(time.Minute))
	if f, ok := d.get("new"); !ok || f.interval != 7*time.Second {
		t.Fatalf("new flow = %+v, %v", f, ok)
	}
	if len(d.m) != 1 {
		t.Errorf("%d flows kept, want 1", len(d.m))
	}
	d.raise("new", 12*time.Second)
	d.raise("new", 3*time.Second) // never lowered
	d.raise("unknown", 12*time.Second)
	if f, _ := d.get("new"); f.interval != 12*time.Second {
		t.Errorf("after raise: %v", f.interval)
	}
	if _, ok := d.get("unknown"); ok {
		t.Error("raise created a flow")
	}
	d.keepToken("new", "tok")
	if f, _ := d.get("new"); f.token != "tok" || f.interval != 12*time.Second {
		t.Errorf("after keepToken: %+v", f)
	}
	d.forget("new")
	if _, ok := d.get("new"); ok {
		t.Error("forget kept the flow")
	}

	// Full of live flows: a new one is not tracked.
	for i := range maxTrackedDevices {
		d.set(fmt.Sprint(i), defaultInterval, time.Now().Add(time.Minute))
	}
	d.set("extra", defaultInterval, time.Now().Add(time.Minute))
	if _, ok := d.get("extra"); ok || len(d.m) != maxTrackedDevices {
		t.Errorf("tracked beyond the bound: %d flows", len(d.m))
	}
}
