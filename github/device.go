package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"provisioner"
)

// deviceScope lets the token read org and team memberships.
const deviceScope = "read:org"

// defaultInterval is GitHub's minimum polling interval, used when the
// interval of a flow is unknown (e.g. started by another instance).
const defaultInterval = 5 * time.Second

// maxDeviceCodeLen bounds the device code a client sends us; GitHub's are
// 40 characters.
const maxDeviceCodeLen = 256

// deviceAnswer is the union of GitHub's answers on both device endpoints.
type deviceAnswer struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	// GitHub does not send it today; passed on if it ever does.
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`

	AccessToken string `json:"access_token"`

	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (p *Provider) deviceConfigured() error {
	if p.cfg.ClientID == "" {
		return provisioner.Errorf(provisioner.EINVALID, "device flow is not configured: set --github-client-id")
	}
	return nil
}

// StartDevice asks GitHub for a device code and a user code.
func (p *Provider) StartDevice(ctx context.Context) (provisioner.DeviceCode, error) {
	if err := p.deviceConfigured(); err != nil {
		return provisioner.DeviceCode{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	a, err := p.postForm(ctx, "/login/device/code", url.Values{
		"client_id": {p.cfg.ClientID},
		"scope":     {deviceScope},
	})
	if err != nil {
		return provisioner.DeviceCode{}, err
	}
	if a.Error != "" {
		return provisioner.DeviceCode{}, appError(a)
	}
	if a.DeviceCode == "" || a.UserCode == "" || a.VerificationURI == "" || len(a.DeviceCode) > maxDeviceCodeLen {
		return provisioner.DeviceCode{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub answered the device flow start without codes")
	}
	interval := time.Duration(a.Interval) * time.Second
	if interval < defaultInterval {
		interval = defaultInterval
	}
	p.devices.set(a.DeviceCode, interval, time.Now().Add(time.Duration(a.ExpiresIn)*time.Second))
	return provisioner.DeviceCode{
		DeviceCode:              a.DeviceCode,
		UserCode:                a.UserCode,
		VerificationURI:         a.VerificationURI,
		VerificationURIComplete: a.VerificationURIComplete,
		ExpiresIn:               a.ExpiresIn,
		Interval:                int(interval / time.Second),
	}, nil
}

// PollDevice exchanges a device code for a token and resolves its user
// (Via "device"). Timeout bounds the exchange and the lookups together.
func (p *Provider) PollDevice(ctx context.Context, deviceCode string) (provisioner.User, error) {
	if err := p.deviceConfigured(); err != nil {
		return provisioner.User{}, err
	}
	if err := checkDeviceCode(deviceCode); err != nil {
		return provisioner.User{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	if f, ok := p.devices.get(deviceCode); ok && f.token != "" {
		return p.resolveDevice(ctx, deviceCode, f.token)
	}
	a, err := p.postForm(ctx, "/login/oauth/access_token", url.Values{
		"client_id":   {p.cfg.ClientID},
		"device_code": {deviceCode},
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
	})
	if err != nil {
		return provisioner.User{}, err
	}
	switch a.Error {
	case "":
	case "authorization_pending":
		e := provisioner.Errorf(provisioner.EPENDING, "waiting for the user to enter the code")
		e.RetryAfter = p.interval(deviceCode, a.Interval)
		return provisioner.User{}, e
	case "slow_down":
		// GitHub adds 5 s to the interval and says so; remember it for the
		// pending answers that follow, which do not repeat it.
		interval := time.Duration(a.Interval) * time.Second
		if a.Interval <= 0 {
			interval = p.interval(deviceCode, 0) + 5*time.Second
		}
		p.devices.raise(deviceCode, interval)
		e := provisioner.Errorf(provisioner.ESLOWDOWN, "polling too fast; wait %s between polls", interval)
		e.RetryAfter = interval
		return provisioner.User{}, e
	case "expired_token":
		p.devices.forget(deviceCode)
		return provisioner.User{}, provisioner.Errorf(provisioner.EEXPIRED, "the device code has expired; start the login again")
	case "access_denied":
		p.devices.forget(deviceCode)
		return provisioner.User{}, provisioner.Errorf(provisioner.EDENIED, "the user denied the login")
	default:
		return provisioner.User{}, appError(a)
	}
	if a.AccessToken == "" {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub answered the device flow without a token")
	}
	return p.resolveDevice(ctx, deviceCode, a.AccessToken)
}

// resolveDevice looks up the user of an exchanged flow. GitHub accepts a
// device code once, so when the lookup fails for a passing reason the token
// is kept for the next poll.
func (p *Provider) resolveDevice(ctx context.Context, deviceCode, token string) (provisioner.User, error) {
	u, err := p.resolve(ctx, token, "device")
	switch provisioner.ErrorCode(err) {
	case provisioner.EUNAVAILABLE, provisioner.ERATELIMITED:
		p.devices.keepToken(deviceCode, token)
	default:
		p.devices.forget(deviceCode)
	}
	return u, err
}

func checkDeviceCode(code string) error {
	if code == "" {
		return provisioner.Errorf(provisioner.EINVALID, "device_code is required")
	}
	if len(code) > maxDeviceCodeLen {
		return provisioner.Errorf(provisioner.EINVALID, "invalid device_code")
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 0x21 || code[i] > 0x7e {
			return provisioner.Errorf(provisioner.EINVALID, "invalid device_code")
		}
	}
	return nil
}

// interval is the polling interval in force: the one GitHub just stated,
// else the one remembered for the flow, else GitHub's minimum.
func (p *Provider) interval(deviceCode string, stated int) time.Duration {
	if stated > 0 {
		return time.Duration(stated) * time.Second
	}
	if f, ok := p.devices.get(deviceCode); ok && f.interval > 0 {
		return f.interval
	}
	return defaultInterval
}

// appError maps the error codes of GitHub's OAuth endpoints other than the
// polling states PollDevice handles itself.
func appError(a deviceAnswer) error {
	switch a.Error {
	case "incorrect_device_code":
		return provisioner.Errorf(provisioner.EINVALID, "unknown device_code")
	case "incorrect_client_credentials", "device_flow_disabled", "unsupported_grant_type", "unauthorized_client":
		// Our configuration, not the caller, is at fault.
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub refused the provisioner's OAuth app (%s); check --github-client-id and that the app allows the device flow", a.Error)
	default:
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "GitHub refused the device login (%s)", truncate(a.Error, 64))
	}
}

// postForm posts an OAuth form to the web host and decodes the JSON answer.
// GitHub answers OAuth errors with 200 and an "error" field, sometimes with
// 4xx, so any answer carrying "error" is returned for the caller to map.
func (p *Provider) postForm(ctx context.Context, path string, form url.Values) (deviceAnswer, error) {
	var a deviceAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.WebURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return a, provisioner.Wrap(provisioner.EINTERNAL, err, "internal error")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sliderule-provisioner")
	resp, err := p.client.Do(req)
	if err != nil {
		return a, unreachable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return a, unreachable(err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode == http.StatusForbidden && (resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0")):
		return a, rateLimited(fmt.Errorf("POST %s: %s", path, resp.Status), retryAfter(resp.Header))
	case resp.StatusCode >= 500:
		return a, unreachable(fmt.Errorf("POST %s: %s", path, resp.Status))
	}
	jerr := json.Unmarshal(body, &a)
	if jerr == nil && a.Error != "" {
		return a, nil
	}
	if resp.StatusCode != http.StatusOK || jerr != nil {
		return deviceAnswer{}, provisioner.Wrap(provisioner.EUNAVAILABLE,
			fmt.Errorf("POST %s: %s: %s", path, resp.Status, truncate(string(body), 200)),
			"GitHub answered unexpectedly (HTTP %d)", resp.StatusCode)
	}
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
