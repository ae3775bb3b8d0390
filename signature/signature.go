// Package signature checks production SlideRule's request signatures: the
// x-sliderule-timestamp and x-sliderule-signature headers that the released
// Python client's Session.__signrequest adds, an ssh-ed25519 signature over
//
//	base64url(host + path) ":" timestamp ":" base64url(body)
//
// where host is the name the client addressed (the Host header), path the
// request path, timestamp Unix seconds and body the exact request bytes; the
// signature travels in standard base64. Like production's verify_signature
// the timestamp must be within ±60 s; unlike it, a signature is accepted once
// only (replays inside the window are refused).
package signature

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner"
)

// Header names, as the released client sends them.
const (
	HeaderTimestamp = "X-Sliderule-Timestamp"
	HeaderSignature = "X-Sliderule-Signature"
)

// Window is production's allowed clock difference (allowed_range_seconds).
const Window = 60 * time.Second

// maxSeen bounds the replay cache; only verified signatures enter it, so
// filling it takes a key holder signing this many requests within 2 minutes.
const maxSeen = 100_000

// Keys finds the ssh public keys a login may sign with.
type Keys interface {
	// SigningKeys returns login's keys; none (and no error) when the login
	// has none registered.
	SigningKeys(ctx context.Context, login string) ([]ssh.PublicKey, error)
}

// signedPaths are the state-changing provisioner calls, each also with a
// per-user suffix (production's /deploy/{username} and the like).
var signedPaths = []string{"/deploy", "/extend", "/destroy", "/schedule_destroy", "/test", "/release"}

// Covers reports whether a request is one a signature policy covers: the
// state-changing calls (DEPLOY, EXTEND, DESTROY, SCHEDULE_DESTROY, TEST,
// RELEASE, their /deploy/{login}-style variants, and cancelling a job,
// POST /jobs/{id}/cancel). Production's verify_signature covers every call
// of an owner; reading calls (status, events, reports, jobs) stay
// token-only here so that dashboards and curl keep working. The server
// checks, and the Go client signs, exactly these.
func Covers(method, path string) bool {
	if method != http.MethodPost {
		return false
	}
	for _, p := range signedPaths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	if id, ok := strings.CutPrefix(path, "/jobs/"); ok {
		id, ok = strings.CutSuffix(id, "/cancel")
		return ok && id != "" && !strings.Contains(id, "/")
	}
	return false
}

// Canonical is the message production signs.
func Canonical(hostPath, timestamp string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(base64.URLEncoding.EncodeToString([]byte(hostPath)))
	b.WriteByte(':')
	b.WriteString(timestamp)
	b.WriteByte(':')
	b.WriteString(base64.URLEncoding.EncodeToString(body))
	return b.Bytes()
}

// Verifier checks signed requests under a policy.
type Verifier struct {
	Policy provisioner.SignaturePolicy
	Keys   Keys
	Now    func() time.Time // default time.Now

	// Replays records accepted signatures where every process of a
	// deployment sees them (the AWS Lambda: a conditional put into its
	// table). Nil: the in-memory record below, which is per process and
	// enough for serve (one process).
	Replays Replays

	// The signatures accepted within the window, by their bytes, with the
	// time after which their timestamp is out of the window.
	mu   sync.Mutex
	seen map[string]time.Time
}

// Replays is a shared record of accepted signatures.
type Replays interface {
	// Claim records sig until the time its timestamp leaves the window,
	// reporting false (and no error) when sig was already recorded, by
	// this process or another. A record may outlive until.
	Claim(ctx context.Context, sig []byte, until time.Time) (bool, error)
}

// ReplaysFunc adapts a function (e.g. a store's method) to Replays.
type ReplaysFunc func(ctx context.Context, sig []byte, until time.Time) (bool, error)

// Claim implements Replays.
func (f ReplaysFunc) Claim(ctx context.Context, sig []byte, until time.Time) (bool, error) {
	return f(ctx, sig, until)
}

// Request is what a signature covers, as the server received it.
type Request struct {
	Login     string // the authenticated caller
	Host      string // the Host header: the name the client addressed
	Path      string // the request path, as sent
	Timestamp string // x-sliderule-timestamp
	Signature string // x-sliderule-signature
	Body      []byte
}

// Verify checks r and records its signature. It returns ESIGREQUIRED when r
// carries no signature, EINVALID for a malformed timestamp, and
// EBADSIGNATURE for a signature that is malformed, out of the window, made
// by no key of the login, or already used.
func (v *Verifier) Verify(ctx context.Context, r Request) error {
	if r.Signature == "" && r.Timestamp == "" {
		return provisioner.Errorf(provisioner.ESIGREQUIRED,
			"this provisioner requires %s to sign this request (x-sliderule-timestamp and x-sliderule-signature, "+
				"as the SlideRule client does with ~/.sliderule_key when its token's org_roles lists developer; log in again to get such a token)", r.Login)
	}
	if r.Signature == "" || r.Timestamp == "" {
		return provisioner.Errorf(provisioner.EBADSIGNATURE, "a signed request needs both x-sliderule-timestamp and x-sliderule-signature")
	}
	ts, err := strconv.ParseInt(r.Timestamp, 10, 64)
	if err != nil || strings.TrimSpace(r.Timestamp) != r.Timestamp || strings.HasPrefix(r.Timestamp, "+") {
		return provisioner.Errorf(provisioner.EINVALID, "x-sliderule-timestamp must be Unix seconds, not %q", r.Timestamp)
	}
	now := v.now()
	at := time.Unix(ts, 0)
	if at.Before(now.Add(-Window)) || at.After(now.Add(Window)) {
		return provisioner.Errorf(provisioner.EBADSIGNATURE,
			"the signature's timestamp %d is more than %d s from the provisioner's clock (%d)", ts, int(Window/time.Second), now.Unix())
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || len(sig) != 64 {
		return provisioner.Errorf(provisioner.EBADSIGNATURE, "x-sliderule-signature must be a base64 ssh-ed25519 signature (64 bytes)")
	}
	keys, err := v.Keys.SigningKeys(ctx, r.Login)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return provisioner.Errorf(provisioner.EBADSIGNATURE, "no ssh-ed25519 signing key is registered for %s", r.Login)
	}
	msg := Canonical(r.Host+r.Path, r.Timestamp, r.Body)
	ok := false
	for _, k := range keys {
		if k.Type() != ssh.KeyAlgoED25519 {
			continue
		}
		if k.Verify(msg, &ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: sig}) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return provisioner.Errorf(provisioner.EBADSIGNATURE,
			"the signature does not verify with any key registered for %s (it covers the host, path, timestamp and body)", r.Login)
	}
	if v.Replays != nil {
		fresh, err := v.Replays.Claim(ctx, sig, at.Add(Window))
		if err != nil {
			return err
		}
		if !fresh {
			return replayed()
		}
		return nil
	}
	return v.remember(string(sig), at.Add(Window), now)
}

func replayed() error {
	return provisioner.Errorf(provisioner.EBADSIGNATURE, "this signature was already used: sign each request anew")
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// remember records a verified signature until its timestamp leaves the
// window, refusing one already recorded.
func (v *Verifier) remember(sig string, until, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	if exp, ok := v.seen[sig]; ok && now.Before(exp) {
		return replayed()
	}
	if len(v.seen) >= maxSeen {
		for s, exp := range v.seen {
			if !now.Before(exp) {
				delete(v.seen, s)
			}
		}
		if len(v.seen) >= maxSeen {
			return &provisioner.Error{Code: provisioner.ERATELIMITED, Message: "too many signed requests: retry shortly", RetryAfter: 5 * time.Second}
		}
	}
	v.seen[sig] = until
	return nil
}
