package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

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

// TestHold: attempts in flight hold their token, so eight at once on a
// bucket with one token admit one; a release (no failure charged) gives
// it back, a Take (a failure) keeps it spent.
func TestHold(t *testing.T) {
	b := New(100)
	lim := Limit{Rate: rate.Every(time.Hour), Burst: 1}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var releases []func()
	for range 8 {
		if r, err := b.Hold(lim, "k", "test", now); err == nil {
			releases = append(releases, r)
		}
	}
	if len(releases) != 1 {
		t.Fatalf("%d of 8 attempts in flight admitted on one token, want 1", len(releases))
	}
	releases[0]()
	releases[0]() // a second release changes nothing
	r, err := b.Hold(lim, "k", "test", now)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := b.Hold(lim, "k", "test", now); err == nil {
		t.Fatal("a second hold while the first is in flight")
	}
	b.Take(lim, "k", now) // the attempt failed
	r()
	if _, err := b.Hold(lim, "k", "test", now); err == nil {
		t.Fatal("a hold after the token was charged")
	}
	if _, err := b.Hold(lim, "k", "test", now.Add(time.Hour)); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
}
