package secretcache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New[string](2)
	c.Put(Key("a"), "A", t0.Add(time.Second))
	if v, ok := c.Get(Key("a"), t0); !ok || v != "A" {
		t.Fatalf("Get before its time: %q %v", v, ok)
	}
	if _, ok := c.Get(Key("a"), t0.Add(time.Second)); ok {
		t.Fatal("Get at its time")
	}
	if _, ok := c.Get(Key("b"), t0); ok {
		t.Fatal("Get of a key never put")
	}
	// Full: starts over.
	c.Put(Key("b"), "B", t0.Add(time.Hour))
	c.Put(Key("c"), "C", t0.Add(time.Hour))
	if _, ok := c.Get(Key("a"), t0); ok {
		t.Fatal("a full cache kept its old entries")
	}
	if v, ok := c.Get(Key("c"), t0); !ok || v != "C" {
		t.Fatalf("the entry put into a full cache: %q %v", v, ok)
	}
}
