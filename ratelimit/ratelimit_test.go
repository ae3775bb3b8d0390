package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"provisioner"
)

func TestPeekTake(t *testing.T) {
	b := New(100)
	lim := Limit{Rate: 1, Burst: 2}
	now := time.Unix(1000, 0)
	for i := 0; i < 5; i++ {
		if err := b.Peek(lim, "k", "test", now); err != nil {
			t.Fatalf("peek %d: %v", i, err)
		}
	}
	b.Take(lim, "k", now)
	b.Take(lim, "k", now)
	err := b.Peek(lim, "k", "test", now)
	var e *provisioner.Error
	if !asError(err, &e) || e.Code != provisioner.ERATELIMITED || e.RetryAfter != time.Second {
		t.Fatalf("peek of an empty bucket: %v", err)
	}
	if err := b.Allow(lim, "k", "test", now.Add(time.Second)); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	if err := b.Allow(Unlimited, "u", "test", now); err != nil {
		t.Fatal(err)
	}
}

func asError(err error, e **provisioner.Error) bool {
	x, ok := err.(*provisioner.Error)
	*e = x
	return ok
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.0/24",
		"203.0.113.7:443":      "203.0.113.0/24",
		"::ffff:203.0.113.7":   "203.0.113.0/24",
		"[2001:db8:1:2::1]:80": "2001:db8:1::/48",
		"garbage":              "unknown",
	} {
		if got := NetworkOf(in); got != want {
			t.Errorf("NetworkOf(%q) = %q, want %q", in, got, want)
		}
	}
	if Network(netip.Addr{}) != "unknown" {
		t.Error("the zero address has a network")
	}
}

func TestCheck(t *testing.T) {
	if l, err := (Limit{Rate: 2.2}).Check("x"); err != nil || l.Burst != 5 {
		t.Fatalf("%v %v", l, err)
	}
	if _, err := (Limit{Rate: -1}).Check("x"); err == nil {
		t.Fatal("negative rate accepted")
	}
}
