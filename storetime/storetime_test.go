package storetime

import (
	"testing"
	"time"

	"provisioner"
)

func TestRoundTripAndOrder(t *testing.T) {
	zone := time.FixedZone("UTC-7", -7*3600)
	times := []time.Time{
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 100_000_000, zone),
		time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC),
	}
	prev := ""
	for _, tm := range times {
		s, err := Format(tm)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != len("2025-03-01T12:00:00.000000000Z") || s <= prev {
			t.Fatalf("%v stored as %q after %q: want fixed width, in time order", tm, s, prev)
		}
		prev = s
		back, err := Parse(s)
		if err != nil || !back.Equal(tm) || back.Location() != time.UTC {
			t.Fatalf("%q read back as %v (%v), want %v in UTC", s, back, err, tm)
		}
	}
}

func TestOutOfRangeAndMalformed(t *testing.T) {
	if _, err := Format(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("year 10000: %v, want EINVALID", err)
	}
	if _, err := Parse("yesterday"); provisioner.ErrorCode(err) != provisioner.EINTERNAL {
		t.Fatalf("malformed: %v, want EINTERNAL", err)
	}
}
