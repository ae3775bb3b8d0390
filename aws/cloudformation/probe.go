package cloudformation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultProbeTimeout bounds one HTTPProbe check.
const DefaultProbeTimeout = 10 * time.Second

// HTTPProbe is the real HealthProbe: what the SlideRule Python client
// polls, POST <endpoint>/discovery/status {"service":"<cluster>"}, answered
// {"nodes":N} by the orchestrator in the cluster's ilb. The ilb answers it
// on :80/:443 without a token (haproxy.cfg routes /discovery/ to
// ilb_backend, which checks none), public or private cluster alike.
type HTTPProbe struct {
	// Client sends the request; nil means a client with Timeout that
	// follows no redirects.
	Client *http.Client
	// Timeout bounds a check when Client is nil; 0 means DefaultProbeTimeout.
	Timeout time.Duration
	// Token, if set, returns a bearer token for the cluster, for an
	// operator's `provisioner gateway` in front of a private cluster (which
	// answers nothing without one); the ilb itself needs none.
	Token func(ctx context.Context, cluster string) (string, error)
}

var _ HealthProbe = (*HTTPProbe)(nil)

// maxProbeBody bounds what a probe reads of an answer.
const maxProbeBody = 64 << 10

var _ ServiceProbe = (*HTTPProbe)(nil)

// Check asks the cluster how many nodes are registered.
func (p *HTTPProbe) Check(ctx context.Context, cluster, endpoint string) (int, error) {
	return p.CheckService(ctx, cluster, cluster, endpoint)
}

// CheckService asks the cluster's load balancer how many nodes are
// registered under service: {"service": "<user>"} counts a user node
// group's nodes, as production's client does in user-service mode.
func (p *HTTPProbe) CheckService(ctx context.Context, cluster, service, endpoint string) (int, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return 0, fmt.Errorf("endpoint %q is not an http(s) URL", endpoint)
	}
	u = u.JoinPath("/discovery/status")
	body, _ := json.Marshal(map[string]string{"service": service})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.Token != nil {
		tok, err := p.Token(ctx, cluster)
		if err != nil {
			return 0, fmt.Errorf("no token for the health check: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := p.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxProbeBody+1))
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", u.Redacted(), err)
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST %s answered %s", u.Redacted(), res.Status)
	}
	if len(b) > maxProbeBody {
		return 0, fmt.Errorf("POST %s: answer larger than %d bytes", u.Redacted(), maxProbeBody)
	}
	var st struct {
		Nodes *int `json:"nodes"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Nodes == nil || *st.Nodes < 0 {
		return 0, fmt.Errorf("POST %s: answer has no node count", u.Redacted())
	}
	return *st.Nodes, nil
}

func (p *HTTPProbe) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	t := p.Timeout
	if t <= 0 {
		t = DefaultProbeTimeout
	}
	return &http.Client{
		Timeout: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
