package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// discover reads the issuer's discovery document and returns its jwks_uri.
// The document must name the configured issuer, and an https issuer must
// publish its keys over https, so a misdirected or downgraded document is
// never believed.
func (j *JWKS) discover(ctx context.Context) (string, error) {
	b, err := get(ctx, j.cfg.Client, j.discovery, maxDiscoverySize)
	if err != nil {
		return "", unavailable(err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", unavailable(fmt.Errorf("discovery document: %w", err))
	}
	if strings.TrimRight(doc.Issuer, "/") != strings.TrimRight(j.cfg.Issuer, "/") {
		return "", unavailable(fmt.Errorf("discovery document names issuer %q, want %q", doc.Issuer, j.cfg.Issuer))
	}
	u, err := url.Parse(doc.JWKSURI)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", unavailable(fmt.Errorf("discovery document has an invalid jwks_uri %q", doc.JWKSURI))
	case strings.HasPrefix(j.cfg.Issuer, "https:") && u.Scheme != "https":
		return "", unavailable(fmt.Errorf("https issuer publishes jwks_uri %q over http", doc.JWKSURI))
	}
	return u.String(), nil
}

// get fetches a JSON document of at most limit bytes; anything but 200 is
// an error.
func get(ctx context.Context, c *http.Client, uri string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", uri, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", uri, limit)
	}
	return b, nil
}
