package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/clientaddr"
)

// identity is who a request comes from, once authenticated.
type identity struct {
	level  provisioner.Level
	user   string // token "sub"; "" when anonymous
	uid    int64
	roles  string     // org_roles as the ILB forwards them: a JSON array
	client netip.Addr // invalid when the peer address cannot be parsed
}

// route is what the gateway lets through on a path, as the ILB's user
// frontend routes it.
type route int

const (
	routeNone    route = iota // not served: the ILB has no such user path
	routeCluster              // /source/*, /openapi/*: the nodes
	routeILB                  // /discovery/status, /discovery/whoami: the ILB itself
	routeMonitor              // /grafana/*: the monitor, for "monitor" tokens
)

func routeOf(path string) route {
	switch {
	case strings.HasPrefix(path, "/source/"), strings.HasPrefix(path, "/openapi/"):
		return routeCluster
	case path == "/discovery/status", path == "/discovery/whoami":
		return routeILB
	case strings.HasPrefix(path, "/grafana/"):
		return routeMonitor
	}
	return routeNone
}

// isUpgrade reports a request asking to switch protocols: it would become a
// tunnel that no later token check, rate limit or header rule applies to.
func isUpgrade(h http.Header) bool {
	if len(h.Values("Upgrade")) > 0 {
		return true
	}
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				return true
			}
		}
	}
	return false
}

// bucket is the rate-limit key: the source network for anonymous callers,
// the GitHub id (or login when there is none) for everyone else.
func (id identity) bucket() string {
	switch {
	case id.level == provisioner.LevelAnonymous:
		return network(id.client)
	case id.uid != 0:
		return "uid:" + strconv.FormatInt(id.uid, 10)
	}
	return "sub:" + id.user
}

type ctxKey struct{}

// ServeHTTP answers the gateway's own paths, then authenticates, rate-limits
// and forwards.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, level: "none"}
	defer func() { g.metrics.request(rec.level, rec.result) }()
	if r.URL.Path == "/healthz" {
		rec.result = "local"
		g.healthz(rec, r)
		return
	}
	rt := routeOf(r.URL.Path)
	switch {
	case rt == routeNone:
		g.refuse(rec, r, provisioner.Errorf(provisioner.ENOTFOUND,
			"no such path on cluster %s: it serves /source/*, /openapi/*, /discovery/status, /discovery/whoami and /grafana/*", g.cfg.Cluster))
		return
	case rt != routeMonitor && isUpgrade(r.Header):
		g.refuse(rec, r, provisioner.Errorf(provisioner.EINVALID, "connection upgrades are allowed on /grafana/* only"))
		return
	}
	id, err := g.authenticate(r, rt)
	if err != nil {
		g.refuse(rec, r, err)
		return
	}
	rec.level = id.level.String()
	if err := g.limits.allow(id.level, id.bucket(), g.now()); err != nil {
		g.metrics.limited(id.level)
		g.refuse(rec, r, err)
		return
	}
	if g.cfg.Nodes > 0 && r.URL.Path == "/discovery/status" {
		rec.result = "local"
		api.WriteJSON(rec, http.StatusOK, map[string]int{"nodes": g.cfg.Nodes})
		return
	}
	rec.result = "forwarded"
	// Streamed answers (SlideRule's /source/* results) may outlast the
	// server's write timeout; the upstream decides when they end.
	_ = http.NewResponseController(rec).SetWriteDeadline(time.Time{})
	g.proxy.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
}

// authenticate returns the caller's identity: anonymous without a token on
// a public cluster, the token's subject and level with a valid one, and an
// error (401, 403, 503) otherwise. A bad token is never anonymous.
func (g *Gateway) authenticate(r *http.Request, rt route) (identity, error) {
	id := identity{client: clientaddr.From(r.RemoteAddr, r.Header, g.cfg.TrustedProxies)}
	tok, err := bearer(r.Header)
	service := r.Header.Values(HeaderService)
	switch {
	case err != nil:
		return id, err
	case tok == "" && len(service) > 0:
		return id, provisioner.Errorf(provisioner.EFORBIDDEN, "a request for a service (%s) needs the token of that user", HeaderService)
	case tok == "" && rt == routeMonitor:
		return id, provisioner.Errorf(provisioner.EUNAUTHORIZED, "the monitor needs a login token with the monitor audience")
	case tok == "" && g.cfg.Public:
		return id, nil
	case tok == "":
		return id, provisioner.Errorf(provisioner.EUNAUTHORIZED,
			"cluster %s is private: send Authorization: Bearer <token> from `provisioner access %s`", g.cfg.Cluster, g.cfg.Cluster)
	}
	c, err := g.verify(r.Context(), tok)
	if err != nil {
		return id, err
	}
	// ACCESS gives private-cluster tokens to organization members only; a
	// member token minted while the cluster was public does not carry over.
	if !g.cfg.Public && c.Level < provisioner.LevelOrgMember && !slices.Contains(c.OrgRoles, provisioner.RoleAffiliate) {
		return id, provisioner.Errorf(provisioner.EFORBIDDEN, "cluster %s is private: level %s is not enough", g.cfg.Cluster, c.Level)
	}
	if rt == routeMonitor && !(c.Type == provisioner.TypeUserToken && slices.Contains(c.Audience, provisioner.AudienceMonitor)) {
		return id, provisioner.Errorf(provisioner.EFORBIDDEN, "the monitor needs a login token with the monitor audience")
	}
	if len(service) > 1 || len(service) == 1 && service[0] != c.Subject {
		return id, provisioner.Errorf(provisioner.EFORBIDDEN, "service not authorized: %s must be your own login", HeaderService)
	}
	roles, _ := json.Marshal(c.OrgRoles)
	id.level, id.user, id.uid, id.roles = c.Level, c.Subject, c.UID, string(roles)
	return id, nil
}

// healthz answers for the gateway; with ?upstream=1 it also asks the
// upstream, charged to the caller's anonymous bucket because it costs an
// upstream request.
func (g *Gateway) healthz(w *recorder, r *http.Request) {
	body := map[string]any{"status": "success", "cluster": g.cfg.Cluster, "public": g.cfg.Public}
	if g.jwks != nil {
		body["keys"] = g.jwks.Len()
	}
	if r.URL.Query().Get("upstream") == "" {
		api.WriteJSON(w, http.StatusOK, body)
		return
	}
	id := identity{client: clientaddr.From(r.RemoteAddr, r.Header, g.cfg.TrustedProxies)}
	if err := g.limits.allow(provisioner.LevelAnonymous, id.bucket(), g.now()); err != nil {
		g.metrics.limited(provisioner.LevelAnonymous)
		g.refuse(w, r, err)
		return
	}
	code, err := g.checkUpstream(r.Context())
	if err != nil {
		g.upstreamError(w, r, err)
		return
	}
	body["upstream_status"] = code
	if code/100 != 2 {
		w.result = "upstream_unhealthy"
		g.fail(w, http.StatusServiceUnavailable, provisioner.EUNAVAILABLE,
			"cluster "+g.cfg.Cluster+" is not healthy: its health check answered "+strconv.Itoa(code), 0)
		return
	}
	api.WriteJSON(w, http.StatusOK, body)
}

func (g *Gateway) checkUpstream(ctx context.Context) (int, error) {
	u := *g.cfg.Upstream
	u.Path = joinPath(u.Path, g.cfg.UpstreamHealth)
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	res, err := g.health.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

func joinPath(base, p string) string {
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + p
}
