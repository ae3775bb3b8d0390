package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/clientaddr"
)

// resultFor names an error code in the requests metric.
var resultFor = map[string]string{
	provisioner.EUNAUTHORIZED: "unauthorized",
	provisioner.EFORBIDDEN:    "forbidden",
	provisioner.ERATELIMITED:  "rate_limited",
	provisioner.EUNAVAILABLE:  "unavailable",
}

// refuse answers a domain error. Refusals are logged at debug level only:
// a flood of bad tokens must not become a flood of log lines (the JWKS
// client reports an unreachable issuer itself, once per refresh).
func (g *Gateway) refuse(w *recorder, r *http.Request, err error) {
	code := provisioner.ErrorCode(err)
	status := api.StatusFor(code)
	w.result = resultFor[code]
	if w.result == "" {
		w.result = "error"
	}
	msg := provisioner.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		g.log.Error("internal error", "path", r.URL.Path, "err", err)
		code, msg = provisioner.EINTERNAL, "internal error"
	} else if g.log.Enabled(r.Context(), slog.LevelDebug) {
		g.log.Debug("refused", "status", status, "reason", msg, "path", r.URL.Path,
			"source", network(clientaddr.From(r.RemoteAddr, r.Header, g.cfg.TrustedProxies)))
	}
	g.fail(w, status, code, msg, provisioner.RetryAfter(err))
}

// fail writes the JSON error; 401s name the cluster as the realm.
func (g *Gateway) fail(w http.ResponseWriter, status int, code, msg string, retry time.Duration) {
	api.WriteError(w, status, code, msg, retry, g.cfg.Cluster)
}

// upstreamError answers a failed upstream round trip: 504 when it timed
// out, 502 when it could not be reached. Addresses stay in the log.
func (g *Gateway) upstreamError(w *recorder, r *http.Request, err error) {
	if r.Context().Err() != nil {
		w.result = "canceled" // the client went away; nobody reads an answer
		return
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		w.result = "upstream_timeout"
		g.log.Warn("upstream timeout", "path", r.URL.Path, "err", err)
		g.fail(w, http.StatusGatewayTimeout, provisioner.EUNAVAILABLE, "cluster "+g.cfg.Cluster+
			" did not answer within "+g.cfg.UpstreamTimeout.String(), 0)
		return
	}
	w.result = "upstream_down"
	g.log.Warn("upstream unreachable", "path", r.URL.Path, "err", err)
	g.fail(w, http.StatusBadGateway, provisioner.EUNAVAILABLE, "cluster "+g.cfg.Cluster+
		" is not reachable: its load balancer is down, starting or stopped", 0)
}

// recorder remembers the metric labels of one request. Unwrap lets the
// proxy flush and hijack through it.
type recorder struct {
	http.ResponseWriter
	level, result string
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
