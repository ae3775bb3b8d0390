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

	// Replays: the signatures accepted within the window, by their bytes,
	// with the time after which their timestamp is out of the window.
	// This is per process, which is enough for serve (one process). A
	// deployment of several processes (the AWS Lambda) needs the cache in
	// shared storage: a conditional put of the signature into the table
	// with an expiry (attribute_not_exists, TTL after the window), refusing
	// when the item exists.
	mu   sync.Mutex
	seen map[string]time.Time
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
	return v.remember(string(sig), at.Add(Window), now)
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
		return provisioner.Errorf(provisioner.EBADSIGNATURE, "this signature was already used: sign each request anew")
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
