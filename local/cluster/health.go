package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// newHealthClient probes loopback ports only: no proxy, no kept-alive
// connections to processes that may be gone by the next probe.
func newHealthClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// probeGateway checks that the gateway on port answers /healthz for this
// cluster; the name check keeps a stranger that took the port from
// passing for it.
func (d *Driver) probeGateway(ctx context.Context, name string, port int) error {
	body, err := d.probe(ctx, port, "/healthz", true)
	if err != nil {
		return err
	}
	var h struct {
		Cluster string `json:"cluster"`
	}
	if json.Unmarshal(body, &h) != nil || h.Cluster != name {
		return fmt.Errorf("port %d answers /healthz for another service", port)
	}
	return nil
}

// probe GETs path on a loopback port and wants 200 (2xx unless exact).
func (d *Driver) probe(ctx context.Context, port int, path string, exact bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.HealthTimeout)
	defer cancel()
	u := "http://127.0.0.1:" + strconv.Itoa(port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := d.health.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 || (exact && res.StatusCode != http.StatusOK) {
		return nil, fmt.Errorf("GET %s answered %s", u, res.Status)
	}
	return body, nil
}
