package provisioner

import (
	"math"
	"testing"
	"time"
)

func TestBudgetCarry(t *testing.T) {
	b := Budget{Monthly: 10, CarryOverCap: 8}
	m := func(month int) time.Time { return time.Date(2026, time.Month(month), 1, 0, 0, 0, 0, time.UTC) }
	spent := map[time.Time]float64{m(1): 4, m(2): 0, m(3): 25, m(4): 9.5}
	at := func(month time.Time) float64 { return spent[month] }
	for _, c := range []struct {
		start, month time.Time
		want         float64
	}{
		{m(1), m(1), 0},   // the first month carries nothing in
		{m(1), m(2), 6},   // 10 - 4
		{m(1), m(3), 8},   // 10 + 6 - 0 = 16, capped at 8
		{m(1), m(4), 0},   // 10 + 8 - 25 < 0
		{m(1), m(5), 0.5}, // 10 + 0 - 9.5
		{m(2), m(4), 0},   // counted from February
		{m(3), m(3), 0},   //
		{m(4), m(5), 0.5}, //
	} {
		if got := BudgetCarry(b, c.start, c.month, at); got != c.want {
			t.Errorf("carry from %s into %s = %v, want %v", c.start.Format("2006-01"), c.month.Format("2006-01"), got, c.want)
		}
	}
}

func TestBudgetValidate(t *testing.T) {
	good := Budget{Scope: "user:ada", Monthly: 10, Policy: BudgetShrink, Grace: time.Hour, WarnAt: []int{50, 100}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Budget){
		"upper-case login": func(b *Budget) { b.Scope = "user:Ada" },
		"no scope":         func(b *Budget) { b.Scope = "" },
		"NaN":              func(b *Budget) { b.Monthly = math.NaN() },
		"infinite cap":     func(b *Budget) { b.CarryOverCap = math.Inf(1) },
		"no policy":        func(b *Budget) { b.Policy = "" },
		"no grace":         func(b *Budget) { b.Grace = 0 },
		"warn twice":       func(b *Budget) { b.WarnAt = []int{50, 50} },
	} {
		b := good
		change(&b)
		if err := b.Validate(); ErrorCode(err) != EINVALID {
			t.Errorf("%s: %v, want %s", name, err, EINVALID)
		}
	}
	for scope, kind := range map[string]string{"org": "org", "team:*": "team", "team:a.b_c-d": "team", "user:*": "user", "user:a-b": "user"} {
		if k, _, err := ParseBudgetScope(scope); err != nil || k != kind {
			t.Errorf("%s: %s, %v", scope, k, err)
		}
	}
}
