// Package webhook delivers notices over HTTP: as signed JSON to an
// operator's endpoint (New), or as a chat line to a Slack-compatible
// incoming webhook (NewSlack).
//
// A signed delivery is a POST of the notice as JSON (provisioner.Notice)
// with these headers:
//
//	Content-Type: application/json
//	X-Provisioner-Event: <kind>             e.g. destroy.upcoming
//	X-Provisioner-Delivery: <notice id>     the same on every retry: drop repeats
//	X-Provisioner-Timestamp: <unix seconds> when this attempt was signed
//	X-Provisioner-Signature: sha256=<hex>   HMAC-SHA256 of "<timestamp>.<body>" under the shared secret
//
// A receiver recomputes the HMAC over the timestamp, a dot and the raw
// body, compares it in constant time, refuses a timestamp more than five
// minutes from its clock (a replayed request), and keeps the delivery ids
// it has seen for as long; Verify does the first three. A 2xx answer takes
// the notice; 408, 429 and 5xx (and no answer) are retried; any other
// answer is final.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
)

// The headers of a signed delivery.
const (
	HeaderEvent     = "X-Provisioner-Event"
	HeaderDelivery  = "X-Provisioner-Delivery"
	HeaderTimestamp = "X-Provisioner-Timestamp"
	HeaderSignature = "X-Provisioner-Signature"
)

// MaxSkew is how far a signed delivery's timestamp may be from the
// receiver's clock, by default.
const MaxSkew = 5 * time.Minute

// MinSecret is the shortest shared secret New accepts.
const MinSecret = 16

// Sink posts signed JSON notices.
type Sink struct {
	post   poster
	secret []byte
	now    func() time.Time
}

// Config configures New.
type Config struct {
	URL    string
	Secret []byte // at least MinSecret bytes
	// Client sends the requests (default: one that follows no redirects).
	Client *http.Client
	// Now is the clock of the timestamps (default time.Now).
	Now func() time.Time
}

// New returns a Sink posting to c.URL, or EINVALID for a URL that is not
// http(s) with a host, or a secret too short.
func New(c Config) (*Sink, error) {
	p, err := newPoster("webhook", c.URL, c.Client)
	if err != nil {
		return nil, err
	}
	if len(c.Secret) < MinSecret {
		return nil, provisioner.Errorf(provisioner.EINVALID, "the webhook secret must be at least %d bytes", MinSecret)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Sink{post: p, secret: bytes.Clone(c.Secret), now: c.Now}, nil
}

// Name is "webhook".
func (s *Sink) Name() string { return "webhook" }

// Send posts n once.
func (s *Sink) Send(ctx context.Context, n provisioner.Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "the notice does not encode as JSON")
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	return s.post.do(ctx, body, map[string]string{
		HeaderEvent:     string(n.Kind),
		HeaderDelivery:  n.ID,
		HeaderTimestamp: ts,
		HeaderSignature: Sign(s.secret, ts, body),
	})
}

// Sign is the X-Provisioner-Signature of body sent at timestamp ts (unix
// seconds, as in X-Provisioner-Timestamp).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signed delivery as a receiver should: h's signature over
// its timestamp and body under secret, and the timestamp within maxSkew
// (MaxSkew when 0) of now. Receivers also drop a delivery id they have
// seen within maxSkew.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = MaxSkew
	}
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook: no valid " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("webhook: timestamp %s is %s from now: stale or replayed", ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("webhook: the signature does not match")
	}
	return nil
}

// Slack posts notices to a Slack-compatible incoming webhook (Slack,
// Mattermost, Rocket.Chat, Teams' Slack-compatible connectors) as
// {"text": ...}: the subject in bold, then the notice's text.
type Slack struct{ post poster }

// NewSlack returns a Slack sink posting to rawURL (its secret is the URL
// itself: keep it out of logs), or EINVALID for a URL that is not
// http(s) with a host.
func NewSlack(rawURL string, client *http.Client) (*Slack, error) {
	p, err := newPoster("slack", rawURL, client)
	if err != nil {
		return nil, err
	}
	return &Slack{post: p}, nil
}

// Name is "slack".
func (s *Slack) Name() string { return "slack" }

// Send posts n once.
func (s *Slack) Send(ctx context.Context, n provisioner.Notice) error {
	text := "*" + slackEscape(n.Subject) + "*\n" + slackEscape(strings.TrimRight(n.Text, "\n"))
	if n.URL != "" {
		text += "\n<" + n.URL + "|Open " + slackEscape(n.Cluster) + " on the dashboard>"
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "the notice does not encode as JSON")
	}
	return s.post.do(ctx, body, nil)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// poster is the HTTP part both sinks share: a POST of a JSON body, and
// what the answer means. Its errors never name the URL, which for Slack
// is the secret.
type poster struct {
	name   string
	url    string
	client *http.Client
}

func newPoster(name, rawURL string, client *http.Client) (poster, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return poster{}, provisioner.Errorf(provisioner.EINVALID, "the %s URL must be http(s)://HOST/PATH, without credentials or fragment", name)
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return poster{name: name, url: rawURL, client: client}, nil
}

func (p poster) do(ctx context.Context, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "cannot make the %s request", p.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sliderule-provisioner")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL stays out of logs and events
		}
		if ctx.Err() != nil {
			return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the %s did not answer in time", p.name)
		}
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the %s could not be reached", p.name)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "the %s answered HTTP %d", p.name, c)
	default:
		return provisioner.Errorf(provisioner.EINVALID, "the %s refused the notice: HTTP %d", p.name, c)
	}
}
