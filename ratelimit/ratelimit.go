// Package ratelimit is the token buckets shared by the cluster gateway and
// the provisioner's login paths: a bounded set of buckets keyed by strings
// (idle ones are evicted), rates written as "10/s", "600/m", and the source
// network a caller is limited by (IPv4 /24, IPv6 /48).
package ratelimit

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
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

// Check returns l with a zero Burst filled in (twice the rate per second,
// at least 1), or EINVALID for a rate that is neither positive nor
// unlimited; what names the limit in the error.
func (l Limit) Check(what string) (Limit, error) {
	switch {
	case l.Rate == rate.Inf:
	case l.Rate <= 0 || math.IsNaN(float64(l.Rate)) || l.Burst < 0:
		return l, provisioner.Errorf(provisioner.EINVALID, "%s rate limit must be positive (or unlimited), burst not negative", what)
	case l.Burst == 0:
		l.Burst = max(1, int(math.Ceil(2*float64(l.Rate))))
	}
	return l, nil
}

// String is "RATE burst N", for logs and flag help.
func (l Limit) String() string {
	if l.Rate == rate.Inf {
		return "unlimited"
	}
	return FormatRate(l.Rate) + " burst " + strconv.Itoa(l.Burst)
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

// Network is the key a source address is limited by: its IPv4 /24 or IPv6
// /48, the unit one site or customer usually holds. Unknown addresses share
// one key.
func Network(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil || !a.IsValid() {
		return "unknown"
	}
	return p.String()
}

// NetworkOf is Network of an address written as text ("ip" or "ip:port").
func NetworkOf(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return "unknown"
		}
		a = ap.Addr()
	}
	return Network(a)
}

// Buckets keeps one token bucket per key in sharded maps. A bucket that has
// refilled is the same as a new one, so such idle buckets are dropped
// whenever a shard grows, keeping memory bounded by the maximum given to
// New. The caller names the Limit on each call; a key must always be used
// with the same Limit (prefix keys by what they limit).
type Buckets struct {
	seed   maphash.Seed
	max    int // per shard
	shards [64]shard
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*rate.Limiter
	held map[string]int // attempts in flight per key (Hold)
	next int            // size at which the next sweep runs
}

const minSweep = 64

// New returns Buckets holding at most about maxBuckets buckets.
func New(maxBuckets int) *Buckets {
	b := &Buckets{seed: maphash.MakeSeed()}
	b.max = max(1, maxBuckets/len(b.shards))
	for i := range b.shards {
		b.shards[i].m = map[string]*rate.Limiter{}
		b.shards[i].next = min(minSweep, b.max)
	}
	return b
}

func (b *Buckets) shard(key string) *shard {
	return &b.shards[maphash.String(b.seed, key)%uint64(len(b.shards))]
}

func (b *Buckets) bucket(lim Limit, key string, now time.Time) *rate.Limiter {
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[key]
	if l == nil {
		if len(s.m) >= s.next {
			s.sweep(now, b.max)
		}
		l = rate.NewLimiter(lim.Rate, lim.Burst)
		s.m[key] = l
	}
	return l
}

// Allow takes one token from key's bucket, or returns ERATELIMITED with the
// time until the next token (at least a second); what names the limit in
// the message.
func (b *Buckets) Allow(lim Limit, key, what string, now time.Time) error {
	if lim.Rate == rate.Inf {
		return nil
	}
	l := b.bucket(lim, key, now)
	if l.AllowN(now, 1) {
		return nil
	}
	return limited(lim, l, what, now)
}

// Peek is Allow without taking the token: for limits on outcomes (failed
// logins) that are checked before the attempt and charged after it, with
// Take.
func (b *Buckets) Peek(lim Limit, key, what string, now time.Time) error {
	if lim.Rate == rate.Inf {
		return nil
	}
	l := b.bucket(lim, key, now)
	if l.TokensAt(now) >= 1 {
		return nil
	}
	return limited(lim, l, what, now)
}

// Hold admits an attempt whose outcome decides the charge (a login: only a
// failure costs) while key's bucket has a token for it beside those held
// by attempts still in flight, else ERATELIMITED as Allow; release ends
// the hold, after the attempt charged a failure with Take. Holding, where a
// Peek would not, keeps N attempts at once from all passing on one token.
func (b *Buckets) Hold(lim Limit, key, what string, now time.Time) (release func(), err error) {
	if lim.Rate == rate.Inf {
		return func() {}, nil
	}
	l := b.bucket(lim, key, now)
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.TokensAt(now) < float64(s.held[key]+1) {
		return nil, limited(lim, l, what, now)
	}
	if s.held == nil {
		s.held = map[string]int{}
	}
	s.held[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.held[key]--; s.held[key] <= 0 {
				delete(s.held, key)
			}
		})
	}, nil
}

// Take charges one token to key's bucket if it has one.
func (b *Buckets) Take(lim Limit, key string, now time.Time) {
	if lim.Rate != rate.Inf {
		b.bucket(lim, key, now).AllowN(now, 1)
	}
}

func limited(lim Limit, l *rate.Limiter, what string, now time.Time) error {
	wait := time.Duration((1 - l.TokensAt(now)) / float64(lim.Rate) * float64(time.Second))
	return &provisioner.Error{Code: provisioner.ERATELIMITED, RetryAfter: max(wait, time.Second),
		Message: fmt.Sprintf("rate limit of %s for %s exceeded; retry later", FormatRate(lim.Rate), what)}
}

// sweep drops refilled buckets and, if the shard is still full, random ones
// (map order is random): an attacker with that many sources loses nothing
// by a reset, and legitimate callers rarely meet it.
func (s *shard) sweep(now time.Time, limit int) {
	for k, l := range s.m {
		if l.TokensAt(now) >= float64(l.Burst()) {
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

// Sweep drops every refilled bucket now (tests; Allow sweeps as it goes).
func (b *Buckets) Sweep(now time.Time) {
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		s.sweep(now, b.max)
		s.mu.Unlock()
	}
}

// Len counts the live buckets, for metrics.
func (b *Buckets) Len() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
