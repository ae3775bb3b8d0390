package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// Defaults of the revocation feed's polling.
const (
	// DefaultRevocationPoll is how often the gateway reads the
	// provisioner's revocation feed: how late it refuses a revoked session.
	DefaultRevocationPoll = 10 * time.Second
	// revocationOverlap re-reads this much before the cursor, so a
	// revocation written with a slightly earlier time by another instance
	// (clocks disagree) is not missed; entries are idempotent.
	revocationOverlap = time.Minute
	// maxRevocationFeed bounds one answer of the feed.
	maxRevocationFeed = 1 << 20
)

// revocations is what the gateway learned from the feed: revoked sessions
// (jti to expiry) and the keys the issuer publishes.
type revocations struct {
	mu       sync.RWMutex
	sessions map[string]time.Time
	// withdrawn are keys the gateway knew that the feed no longer lists.
	withdrawn map[string]bool
	cursor    time.Time
	client    *http.Client
}

type feedAnswer struct {
	Sessions []struct {
		ID        string    `json:"jti"`
		ExpiresAt time.Time `json:"exp"`
	} `json:"sessions"`
	Keys   []string  `json:"keys"`
	Cursor time.Time `json:"cursor"`
	More   bool      `json:"more"`
}

// revoked tells whether the claims belong to a revoked session.
func (r *revocations) revoked(c provisioner.Claims) bool {
	sid := c.SessionID()
	if sid == "" {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.sessions[sid]
	return ok
}

// PollRevocations reads the provisioner's revocation feed once: the cached
// verifications of newly revoked sessions are dropped and those sessions
// refused from then on (login tokens by jti, jwt_cluster tokens by sid);
// when a key the gateway knows is no longer published, the JWKS is
// fetched again and every cached verification dropped.
func (g *Gateway) PollRevocations(ctx context.Context) error {
	r := g.revocations
	for range 10 { // follow "more" a few pages at a time
		r.mu.RLock()
		since := r.cursor
		r.mu.RUnlock()
		u := strings.TrimRight(g.cfg.Issuer, "/") + "/auth/revocations"
		if !since.IsZero() {
			u += "?since=" + url.QueryEscape(since.Add(-revocationOverlap).Format(time.RFC3339Nano))
		}
		b, err := get(ctx, r.client, u, maxRevocationFeed)
		if err != nil {
			return unavailable(err)
		}
		var a feedAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return unavailable(err)
		}
		g.applyRevocations(ctx, a)
		if !a.More {
			return nil
		}
	}
	return nil
}

func (g *Gateway) applyRevocations(ctx context.Context, a feedAnswer) {
	r := g.revocations
	now := g.now()
	fresh := map[string]bool{}
	r.mu.Lock()
	for id, exp := range r.sessions {
		if !now.Before(exp) {
			delete(r.sessions, id)
		}
	}
	for _, s := range a.Sessions {
		if _, ok := r.sessions[s.ID]; !ok && s.ID != "" && now.Before(s.ExpiresAt) {
			r.sessions[s.ID] = s.ExpiresAt
			fresh[s.ID] = true
		}
	}
	if a.Cursor.After(r.cursor) {
		r.cursor = a.Cursor
	}
	var withdrawn []string
	if a.Keys != nil {
		keys := make(map[string]bool, len(a.Keys))
		for _, k := range a.Keys {
			keys[k] = true
		}
		for k := range r.withdrawn {
			if keys[k] {
				delete(r.withdrawn, k) // published again
			}
		}
		known, _ := g.keys.PublicKeys(ctx)
		for _, k := range known {
			if !keys[k.ID] && !r.withdrawn[k.ID] {
				r.withdrawn[k.ID] = true
				withdrawn = append(withdrawn, k.ID)
			}
		}
	}
	r.mu.Unlock()

	if len(withdrawn) > 0 {
		g.log.Warn("signing keys withdrawn by the issuer; dropping every cached verification", "kids", withdrawn)
		if g.jwks != nil {
			_ = g.jwks.refresh(ctx, true)
		}
		if g.cache != nil {
			g.cache.dropIf(func(provisioner.Claims) bool { return true })
		}
	}
	if len(fresh) > 0 {
		g.log.Info("sessions revoked", "count", len(fresh))
		if g.cache != nil {
			g.cache.dropIf(func(c provisioner.Claims) bool { return fresh[c.SessionID()] })
		}
	}
}

// liveKeys is the gateway's key set without the keys the feed withdrew,
// so a withdrawn key verifies nothing even while a JWKS refresh fails or
// the keys are a fixed file.
type liveKeys struct {
	provisioner.KeySet
	r *revocations
}

func (k liveKeys) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	k.r.mu.RLock()
	gone := k.r.withdrawn[kid]
	k.r.mu.RUnlock()
	if gone {
		return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "key %q was withdrawn by the issuer", kid)
	}
	return k.KeySet.PublicKey(ctx, kid)
}

// runRevocations polls the feed every interval until ctx ends. A failed
// poll keeps what was learned and is retried at the next tick: the
// gateway goes on refusing the sessions it knows are revoked.
func (g *Gateway) runRevocations(ctx context.Context) {
	t := time.NewTicker(g.cfg.RevocationPoll)
	defer t.Stop()
	for {
		if err := g.PollRevocations(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("cannot read the revocation feed; keeping what is known", "issuer", g.cfg.Issuer, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
