// Package client is the Go client of the provisioner's HTTP API. The CLI is
// built on it; JSON error bodies come back as *provisioner.Error values with
// the server's code, so callers branch on domain codes, not HTTP statuses.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/signature"
)

// Client talks to one provisioner.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string // jwt_user, sent as a bearer token when set
	HTTP    *http.Client
	// Signer, when set, signs the state-changing calls (those
	// signature.Covers names), as a signature policy requires.
	Signer *Signer
}

// New returns a client with a bounded HTTP timeout.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out. Non-2xx answers become *provisioner.Error. It returns the status
// so callers can tell 200 from 202.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	var sent []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body, sent = bytes.NewReader(b), b
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return 0, provisioner.Wrap(provisioner.EINVALID, err, "invalid server URL %q", c.BaseURL)
	}
	if c.Signer != nil {
		p, _, _ := strings.Cut(path, "?")
		if signature.Covers(method, p) {
			c.Signer.Sign(req, sent)
		}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot reach the provisioner at %s", c.BaseURL)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "reading the provisioner's answer")
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, decodeError(resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, provisioner.Wrap(provisioner.EINTERNAL, err, "the provisioner answered with invalid JSON")
		}
	}
	return resp.StatusCode, nil
}

func decodeError(resp *http.Response, raw []byte) error {
	var eb api.Error
	if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
		return &provisioner.Error{Code: codeForStatus(resp.StatusCode),
			Message: fmt.Sprintf("the provisioner answered %s", resp.Status)}
	}
	e := &provisioner.Error{Code: eb.Error, Message: eb.Description}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// codeForStatus is the fallback when a proxy, not the provisioner, answered.
func codeForStatus(status int) string {
	switch status {
	case 400:
		return provisioner.EINVALID
	case 401:
		return provisioner.EUNAUTHORIZED
	case 403:
		return provisioner.EFORBIDDEN
	case 404:
		return provisioner.ENOTFOUND
	case 409:
		return provisioner.ECONFLICT
	case 429:
		return provisioner.ERATELIMITED
	case 502, 503, 504:
		return provisioner.EUNAVAILABLE
	}
	return provisioner.EINTERNAL
}

// IsCode reports whether err is a provisioner error with the given code.
func IsCode(err error, code string) bool {
	var e *provisioner.Error
	return errors.As(err, &e) && e.Code == code
}

// LoginPAT logs in with a GitHub personal access token.
func (c *Client) LoginPAT(ctx context.Context, pat string) (api.Login, error) {
	var out api.Login
	_, err := c.do(ctx, http.MethodPost, "/auth/github/pat", map[string]string{"pat": pat}, &out)
	return out, err
}

// LoginActions logs in with a GitHub Actions OIDC ID token.
func (c *Client) LoginActions(ctx context.Context, idToken string) (api.Login, error) {
	var out api.Login
	_, err := c.do(ctx, http.MethodPost, "/auth/github/actions", map[string]string{"token": idToken}, &out)
	return out, err
}

// StartDevice begins a device flow login.
func (c *Client) StartDevice(ctx context.Context) (provisioner.DeviceCode, error) {
	var out provisioner.DeviceCode
	_, err := c.do(ctx, http.MethodPost, "/auth/github/device", nil, &out)
	return out, err
}

// PollDevice polls a device flow once. While the user has not approved yet it
// returns an *provisioner.Error with code EPENDING or ESLOWDOWN and
// RetryAfter set to the interval to wait.
func (c *Client) PollDevice(ctx context.Context, deviceCode string) (api.Login, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, http.MethodPost, "/auth/github/device/poll", map[string]string{"device_code": deviceCode}, &raw)
	if err != nil {
		return api.Login{}, err
	}
	if status == http.StatusAccepted {
		var p struct {
			Error    string `json:"error"`
			Interval int    `json:"interval"`
		}
		_ = json.Unmarshal(raw, &p)
		code := provisioner.EPENDING
		if p.Error == provisioner.ESLOWDOWN {
			code = provisioner.ESLOWDOWN
		}
		return api.Login{}, &provisioner.Error{Code: code, Message: "waiting for the user to approve",
			RetryAfter: time.Duration(p.Interval) * time.Second}
	}
	var out api.Login
	if err := json.Unmarshal(raw, &out); err != nil {
		return api.Login{}, provisioner.Wrap(provisioner.EINTERNAL, err, "the provisioner answered with invalid JSON")
	}
	return out, nil
}

// Whoami returns the server-verified claims of the client's token.
func (c *Client) Whoami(ctx context.Context) (api.Metadata, error) {
	var out struct {
		Metadata api.Metadata `json:"metadata"`
	}
	_, err := c.do(ctx, http.MethodGet, "/auth/whoami", nil, &out)
	return out.Metadata, err
}

// Logout revokes the session of the client's token at the server.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/auth/logout", nil, nil)
	return err
}

// RevokeUser revokes every session of login (admin) and returns how many
// were live.
func (c *Client) RevokeUser(ctx context.Context, login string) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	_, err := c.do(ctx, http.MethodPost, "/users/"+url.PathEscape(login)+"/revoke", nil, &out)
	return out.Revoked, err
}

// Access asks for a jwt_cluster for one cluster.
func (c *Client) Access(ctx context.Context, cluster string) (api.Access, error) {
	var out api.Access
	_, err := c.do(ctx, http.MethodPost, "/access", map[string]string{"cluster": cluster}, &out)
	return out, err
}

// RegisterCluster records a cluster (admin).
func (c *Client) RegisterCluster(ctx context.Context, name string, public bool) (api.Status, error) {
	var out api.Status
	_, err := c.do(ctx, http.MethodPost, "/clusters/register", map[string]any{"cluster": name, "is_public": public}, &out)
	return out, err
}

// UnregisterCluster forgets a cluster (admin).
func (c *Client) UnregisterCluster(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPost, "/clusters/unregister", map[string]string{"cluster": name}, nil)
	return err
}

// ListClusters lists the clusters the caller may reach.
func (c *Client) ListClusters(ctx context.Context) ([]api.Status, error) {
	var out struct {
		Clusters []api.Status `json:"clusters"`
	}
	_, err := c.do(ctx, http.MethodGet, "/clusters", nil, &out)
	return out.Clusters, err
}

// Audit lists audit entries (admin).
func (c *Client) Audit(ctx context.Context, f provisioner.AuditFilter) ([]provisioner.AuditEntry, error) {
	q := url.Values{}
	if f.Actor != "" {
		q.Set("actor", f.Actor)
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Entries []provisioner.AuditEntry `json:"entries"`
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Entries, err
}

// Health checks that the server answers.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
	return err
}

// LongResult is the answer to DEPLOY or DESTROY: the final status when
// Done, else the operation to wait for.
type LongResult struct {
	Done      bool
	Status    api.Status
	Operation provisioner.Operation
	// Estimate is a DEPLOY's estimated cost, when the server gives one.
	Estimate *provisioner.Estimate
	// Budget says how a budget cut a DEPLOY's TTL, when one did.
	Budget *api.BudgetNote
}

func (c *Client) long(ctx context.Context, path string, in any) (LongResult, error) {
	var raw json.RawMessage
	code, err := c.do(ctx, http.MethodPost, path, in, &raw)
	if err != nil {
		return LongResult{}, err
	}
	if code == http.StatusAccepted {
		var p api.PendingOp
		if err := json.Unmarshal(raw, &p); err != nil {
			return LongResult{}, provisioner.Wrap(provisioner.EINTERNAL, err, "the provisioner answered with invalid JSON")
		}
		return LongResult{Operation: p.Operation, Estimate: p.EstimatedCost, Budget: p.Budget}, nil
	}
	var st api.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return LongResult{}, provisioner.Wrap(provisioner.EINTERNAL, err, "the provisioner answered with invalid JSON")
	}
	return LongResult{Done: true, Status: st, Estimate: st.EstimatedCost, Budget: st.Budget}, nil
}

// Deploy asks for a cluster (DEPLOY).
func (c *Client) Deploy(ctx context.Context, req api.DeployRequest) (LongResult, error) {
	return c.long(ctx, "/deploy", req)
}

// Destroy asks for a cluster to go (DESTROY).
func (c *Client) Destroy(ctx context.Context, cluster string) (LongResult, error) {
	return c.long(ctx, "/destroy", api.ClusterRequest{Cluster: cluster})
}

// Extend keeps a cluster ttlMinutes more from now.
func (c *Client) Extend(ctx context.Context, cluster string, ttlMinutes int) (api.Status, error) {
	var out api.Status
	_, err := c.do(ctx, http.MethodPost, "/extend", api.ExtendRequest{Cluster: cluster, TTL: ttlMinutes}, &out)
	return out, err
}

// ScheduleDestroy moves a cluster's destroy to at (SCHEDULE_DESTROY).
func (c *Client) ScheduleDestroy(ctx context.Context, cluster string, at time.Time) (api.Status, error) {
	var out api.Status
	_, err := c.do(ctx, http.MethodPost, "/schedule_destroy", api.ScheduleRequest{Cluster: cluster, Time: at.UTC().Format(time.RFC3339)}, &out)
	return out, err
}

// Status reports a cluster (STATUS); an absent cluster has state "absent".
func (c *Client) Status(ctx context.Context, cluster string) (api.Status, error) {
	var out api.Status
	_, err := c.do(ctx, http.MethodPost, "/status", api.ClusterRequest{Cluster: cluster}, &out)
	return out, err
}

// Events lists a cluster's recent events, oldest first.
func (c *Client) Events(ctx context.Context, cluster string) ([]provisioner.Event, error) {
	var out api.Events
	_, err := c.do(ctx, http.MethodPost, "/events", api.ClusterRequest{Cluster: cluster}, &out)
	return out.Events, err
}

// Operation returns an operation, letting the server wait up to wait for its end.
func (c *Client) Operation(ctx context.Context, id string, wait time.Duration) (api.OperationResult, error) {
	var out api.OperationResult
	_, err := c.do(ctx, http.MethodGet, waitPath("/operations/", id, wait), nil, &out)
	return out, err
}

// waitPath is the path of the operation or job id under prefix, asking the
// server to wait up to wait for its end.
func waitPath(prefix, id string, wait time.Duration) string {
	path := prefix + url.PathEscape(id)
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	return path
}

// StartJob starts a TEST or RELEASE.
func (c *Client) StartJob(ctx context.Context, kind provisioner.JobKind, cluster, version string) (provisioner.Job, error) {
	var out api.JobStarted
	_, err := c.do(ctx, http.MethodPost, "/"+string(kind), api.JobRequest{Cluster: cluster, Version: version}, &out)
	return out.Job, err
}

// Job returns a job, letting the server wait up to wait for its end.
func (c *Client) Job(ctx context.Context, id string, wait time.Duration) (provisioner.Job, error) {
	var out api.JobResult
	_, err := c.do(ctx, http.MethodGet, waitPath("/jobs/", id, wait), nil, &out)
	return out.Job, err
}

// CancelJob stops a job.
func (c *Client) CancelJob(ctx context.Context, id string) (provisioner.Job, error) {
	var out api.JobResult
	_, err := c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/cancel", nil, &out)
	return out.Job, err
}

// Jobs lists jobs newest first.
func (c *Client) Jobs(ctx context.Context, f provisioner.JobFilter) ([]provisioner.Job, error) {
	q := url.Values{}
	if f.Cluster != "" {
		q.Set("cluster", f.Cluster)
	}
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/jobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.Jobs
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Jobs, err
}

// JobLog copies a job's log from offset to w. With follow the server keeps
// sending while the job runs (for a while); it returns the new offset and
// the job's state when the answer ended, so callers resume until final.
func (c *Client) JobLog(ctx context.Context, id string, offset int64, follow bool, w io.Writer) (int64, provisioner.JobState, error) {
	path := fmt.Sprintf("/jobs/%s/log?offset=%d", url.PathEscape(id), offset)
	if follow {
		path += "&follow=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return offset, "", err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	// A follow lasts up to ~25 s on the server; no client timeout shorter than that.
	hc := &http.Client{Transport: c.transport()}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return offset, "", ctx.Err()
		}
		return offset, "", provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot reach the provisioner at %s", c.BaseURL)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return offset, "", decodeError(resp, raw)
	}
	n, err := io.Copy(w, resp.Body)
	return offset + n, provisioner.JobState(resp.Header.Get("X-Job-State")), err
}

func (c *Client) transport() http.RoundTripper {
	if c.HTTP != nil && c.HTTP.Transport != nil {
		return c.HTTP.Transport
	}
	return http.DefaultTransport
}

// ExportAudit exports the audit entries since a time to the log store.
func (c *Client) ExportAudit(ctx context.Context, since time.Time) (api.AuditExport, error) {
	var out api.AuditExport
	_, err := c.do(ctx, http.MethodPost, "/audit/export", api.AuditExportRequest{Since: since.UTC().Format(time.RFC3339)}, &out)
	return out, err
}

// TestHistory is GET /report/tests: branch's last limit finished TESTs
// (0: the server's default), newest first, with the tests they flag.
func (c *Client) TestHistory(ctx context.Context, branch string, limit int) (api.TestHistory, error) {
	q := url.Values{}
	if branch != "" {
		q.Set("branch", branch)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/report/tests"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.TestHistory
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
