package gateway

import (
	"time"

	"golang.org/x/time/rate"

	"provisioner"
	"provisioner/ratelimit"
)

// Limit is a token bucket (ratelimit.Limit).
type Limit = ratelimit.Limit

// Unlimited is a Limit that never refuses.
var Unlimited = ratelimit.Unlimited

// Limits are the buckets per level. A zero Limit takes the default; a zero
// Burst with a Rate is twice the rate per second (at least 1).
type Limits struct {
	Anonymous Limit // per source network (IPv4 /24, IPv6 /48)
	Member    Limit // per user
	OrgMember Limit // per user
	Admin     Limit // per user; unlimited by default
}

// DefaultLimits: anonymous callers share a modest bucket per network, known
// users get more, administrators are not limited.
func DefaultLimits() Limits {
	return Limits{
		Anonymous: Limit{Rate: 10, Burst: 20},
		Member:    Limit{Rate: 50, Burst: 100},
		OrgMember: Limit{Rate: 200, Burst: 400},
		Admin:     Unlimited,
	}
}

func (l Limits) withDefaults() ([4]Limit, error) {
	def := DefaultLimits()
	out := [4]Limit{l.Anonymous, l.Member, l.OrgMember, l.Admin}
	for i, d := range [4]Limit{def.Anonymous, def.Member, def.OrgMember, def.Admin} {
		if out[i].Rate == 0 && out[i].Burst == 0 {
			out[i] = d
			continue
		}
		var err error
		if out[i], err = out[i].Check(provisioner.Level(i).String()); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ParseRate reads "10/s", "600/m", "100/h", a bare number (per second) or
// "unlimited".
func ParseRate(s string) (rate.Limit, error) { return ratelimit.ParseRate(s) }

// FormatRate is the inverse of ParseRate, for flag defaults and logs.
func FormatRate(r rate.Limit) string { return ratelimit.FormatRate(r) }

// limiter keeps one token bucket per (level, key), bounded in number.
type limiter struct {
	limits  [4]Limit
	buckets *ratelimit.Buckets
}

func newLimiter(limits [4]Limit, maxBuckets int) *limiter {
	return &limiter{limits: limits, buckets: ratelimit.New(maxBuckets)}
}

// allow takes one token from the caller's bucket, or returns ERATELIMITED
// with the time until the next token.
func (l *limiter) allow(level provisioner.Level, key string, now time.Time) error {
	lim := l.limits[min(max(int(level), 0), len(l.limits)-1)]
	return l.buckets.Allow(lim, level.String()+"|"+key, level.String()+" callers", now)
}
