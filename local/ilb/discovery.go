package ilb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// NodeLifetime is how long a registration lasts, as a SlideRule node asks
// (120 s); a node renews it at half that.
const NodeLifetime = 120 * time.Second

// Registration is the body of POST /discovery/register on the ILB's
// node-facing port (orchestrator.lua's api_register).
type Registration struct {
	Service  string `json:"service"`  // the cluster's name ($CLUSTER), or a user's service
	Lifetime int    `json:"lifetime"` // seconds
	Address  string `json:"address"`  // "http://IP:PORT", as server.lua builds it
	Reset    bool   `json:"reset,omitempty"`
}

// client talks to loopback ILBs: no proxy, no kept-alive connections (a
// reloading HAProxy's old worker would keep them).
var client = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// Register posts r to the orchestrator at base (e.g. http://127.0.0.1:8050).
func Register(ctx context.Context, base string, r Registration) error {
	b, _ := json.Marshal(r)
	_, err := post(ctx, strings.TrimRight(base, "/")+"/discovery/register", b)
	return err
}

// Nodes asks the ILB at base how many nodes are registered to service ("" is
// the ILB's own cluster), as the SlideRule client's scaleout does.
func Nodes(ctx context.Context, base, service string) (int, error) {
	body := []byte("{}")
	if service != "" {
		body, _ = json.Marshal(map[string]string{"service": service})
	}
	b, err := post(ctx, strings.TrimRight(base, "/")+"/discovery/status", body)
	if err != nil {
		return 0, err
	}
	var st struct {
		Nodes *int `json:"nodes"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Nodes == nil {
		return 0, fmt.Errorf("/discovery/status answered %q", b)
	}
	return *st.Nodes, nil
}

// Whoami returns the cluster name the ILB at base serves.
func Whoami(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/discovery/whoami", nil)
	if err != nil {
		return "", err
	}
	b, err := do(req)
	if err != nil {
		return "", err
	}
	var w struct {
		Cluster string `json:"cluster"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return "", fmt.Errorf("/discovery/whoami answered %q", b)
	}
	return w.Cluster, nil
}

func post(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

func do(req *http.Request) ([]byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s answered %s", req.Method, req.URL, res.Status)
	}
	return b, nil
}
