// Package ses delivers notices as plain-text email through Amazon SES
// (the v2 API's SendEmail): the AWS provisioner's email sink, as
// production's provisioner mails its operators through SES.
//
// It makes the one call itself, a SigV4-signed JSON POST, with the signer
// the Lambda already links, rather than through the SES client of the
// SDK: that client's operations would add some 600 KB to a Lambda that
// must stay under 16 MiB (BENCHMARKS.md).
package ses

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"provisioner"
	"provisioner/notify"
)

// Config configures a Sink.
type Config struct {
	From string   // a verified SES identity (address or domain)
	To   []string // the operator's addresses; a notice may add its owner's
}

// Sink sends notices with SES.
type Sink struct {
	creds    aws.CredentialsProvider
	region   string
	endpoint string
	client   aws.HTTPClient
	signer   *v4.Signer
	now      func() time.Time
	from     string
	to       []string
}

// New returns a Sink that calls SES with cfg's credentials, region,
// HTTP client and endpoint (BaseEndpoint, for an emulator; else SES's
// regional one), or EINVALID for bad addresses. It makes no call.
func New(cfg aws.Config, c Config) (*Sink, error) {
	from, to, err := notify.Envelope(c.From, c.To)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" || cfg.Credentials == nil {
		return nil, errors.New("ses: the AWS configuration has no region or credentials")
	}
	s := &Sink{creds: cfg.Credentials, region: cfg.Region, client: cfg.HTTPClient, signer: v4.NewSigner(), now: time.Now,
		from: from, to: to}
	switch {
	case cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "":
		s.endpoint = strings.TrimRight(*cfg.BaseEndpoint, "/")
	case strings.HasPrefix(cfg.Region, "cn-"):
		s.endpoint = "https://email." + cfg.Region + ".amazonaws.com.cn"
	default:
		s.endpoint = "https://email." + cfg.Region + ".amazonaws.com"
	}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	return s, nil
}

// Name is "ses".
func (s *Sink) Name() string { return "ses" }

// The SendEmail request, as the SES v2 API takes it.
type (
	sendEmail struct {
		FromEmailAddress string      `json:"FromEmailAddress"`
		Destination      destination `json:"Destination"`
		Content          content     `json:"Content"`
	}
	destination struct {
		ToAddresses []string `json:"ToAddresses"`
	}
	content struct {
		Simple message `json:"Simple"`
	}
	message struct {
		Subject text `json:"Subject"`
		Body    body `json:"Body"`
	}
	body struct {
		Text text `json:"Text"`
	}
	text struct {
		Data    string `json:"Data"`
		Charset string `json:"Charset"`
	}
)

// Send mails n once to the sink's addresses and n.To.
func (s *Sink) Send(ctx context.Context, n provisioner.Notice) error {
	payload, err := json.Marshal(sendEmail{
		FromEmailAddress: s.from,
		Destination:      destination{ToAddresses: notify.Recipients(s.to, n)},
		Content: content{Simple: message{
			Subject: text{Data: strings.NewReplacer("\r", " ", "\n", " ").Replace(n.Subject), Charset: "UTF-8"},
			Body:    body{Text: text{Data: n.Text, Charset: "UTF-8"}},
		}},
	})
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "the notice does not encode as JSON")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/v2/email/outbound-emails", bytes.NewReader(payload))
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "cannot make the SES request")
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "SES: no AWS credentials now")
	}
	sum := sha256.Sum256(payload)
	if err := s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ses", s.region, s.now()); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot sign the SES request")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "SES did not take the notice now (no answer)")
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	code := errorCode(resp.Header, answer)
	cause := errors.New("SES answered HTTP " + resp.Status + ": " + string(answer))
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests || c >= 500 || code == "TooManyRequestsException" || code == "LimitExceededException" || code == "ThrottlingException":
		return provisioner.Wrap(provisioner.EUNAVAILABLE, cause, "SES did not take the notice now (%s)", code)
	}
	// Refused: an unverified sender, a paused account, a bad address, a
	// credential without ses:SendEmail. A retry gets the same answer.
	return provisioner.Wrap(provisioner.EINVALID, cause, "SES refused the notice (%s)", code)
}

// errorCode is the error type of an SES answer: the X-Amzn-ErrorType
// header (cut at its first ':'), else the body's "__type" or "code",
// else the HTTP status.
func errorCode(h http.Header, answer []byte) string {
	if t, _, _ := strings.Cut(h.Get("X-Amzn-ErrorType"), ":"); t != "" {
		return t
	}
	var body struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	if json.Unmarshal(answer, &body) == nil {
		if t := body.Type; t != "" {
			return t[strings.LastIndex(t, "#")+1:]
		}
		if body.Code != "" {
			return body.Code
		}
	}
	return "no error type"
}
