package gateway

import (
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"provisioner"
)

// Limit is a token bucket: Rate requests per second on average, Burst at
// once. Rate rate.Inf means no limit.
type Limit struct {
	Rate  rate.Limit
	Burst int
}

// Unlimited is a Limit that never refuses.
var Unlimited = Limit{Rate: rate.Inf}

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
		lim := &out[i]
		switch {
		case lim.Rate == 0 && lim.Burst == 0:
			*lim = d
		case lim.Rate == rate.Inf:
		case lim.Rate <= 0 || math.IsNaN(float64(lim.Rate)) || lim.Burst < 0:
			return out, provisioner.Errorf(provisioner.EINVALID, "%s rate limit must be positive (or unlimited), burst not negative", provisioner.Level(i))
		case lim.Burst == 0:
			lim.Burst = max(1, int(math.Ceil(2*float64(lim.Rate))))
		}
	}
	return out, nil
}

// ParseRate reads "10/s", "600/m", "100/h", a bare number (per second) or
// "unlimited".
func ParseRate(s string) (rate.Limit, error) {
	if s == "unlimited" || s == "inf" {
		return rate.Inf, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	per := map[string]float64{"": 1, "s": 1, "m": 60, "h": 3600}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if per == 0 || err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, provisioner.Errorf(provisioner.EINVALID, "invalid rate %q: want N/s, N/m, N/h or unlimited", s)
	}
	return rate.Limit(n / per), nil
}

// FormatRate is the inverse of ParseRate, for flag defaults and logs.
func FormatRate(r rate.Limit) string {
	if r == rate.Inf {
		return "unlimited"
	}
	return strconv.FormatFloat(float64(r), 'g', -1, 64) + "/s"
}

// limiter keeps one token bucket per (level, key) in sharded maps. A bucket
// that has refilled is the same as a new one, so such idle buckets are
// dropped whenever a shard grows, keeping memory bounded by MaxBuckets.
type limiter struct {
	limits [4]Limit
	seed   maphash.Seed
	max    int // per shard
	shards [64]shard
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*rate.Limiter
	next int // size at which the next sweep runs
}

const minSweep = 64

func newLimiter(limits [4]Limit, maxBuckets int) *limiter {
	l := &limiter{limits: limits, seed: maphash.MakeSeed()}
	l.max = max(1, maxBuckets/len(l.shards))
	for i := range l.shards {
		l.shards[i].m = map[string]*rate.Limiter{}
		l.shards[i].next = min(minSweep, l.max)
	}
	return l
}

// allow takes one token from the caller's bucket, or returns ERATELIMITED
// with the time until the next token.
func (l *limiter) allow(level provisioner.Level, key string, now time.Time) error {
	lim := l.limits[min(max(int(level), 0), len(l.limits)-1)]
	if lim.Rate == rate.Inf {
		return nil
	}
	key = level.String() + "|" + key
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	s.mu.Lock()
	b := s.m[key]
	if b == nil {
		if len(s.m) >= s.next {
			s.sweep(now, l.max)
		}
		b = rate.NewLimiter(lim.Rate, lim.Burst)
		s.m[key] = b
	}
	s.mu.Unlock()
	if b.AllowN(now, 1) {
		return nil
	}
	wait := time.Duration((1 - b.TokensAt(now)) / float64(lim.Rate) * float64(time.Second))
	return &provisioner.Error{Code: provisioner.ERATELIMITED, RetryAfter: max(wait, time.Second),
		Message: fmt.Sprintf("rate limit of %s for %s callers exceeded; retry later", FormatRate(lim.Rate), level)}
}

// sweep drops refilled buckets and, if the shard is still full, random ones
// (map order is random): an attacker with that many sources loses nothing
// by a reset, and legitimate callers rarely meet it.
func (s *shard) sweep(now time.Time, limit int) {
	for k, b := range s.m {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) < limit-limit/8 {
			break
		}
		delete(s.m, k)
	}
	s.next = min(max(2*len(s.m), minSweep), limit)
}

// buckets counts the live buckets, for the metrics.
func (l *limiter) buckets() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
