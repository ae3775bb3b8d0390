// Package kms is the provisioner.Signer of the AWS backend: tokens are signed
// by AWS KMS asymmetric keys, so no private key ever exists outside KMS.
//
// A Signer is configured with a list of KMS key ids, ARNs or aliases. The
// first signs new tokens; every one of them is published in the JWKS (and
// the first at /auth/pem). Rotation is a configuration change: put a new key
// in front, keep the old one listed for at least the longest token lifetime
// (so tokens it signed still verify at the provisioner), then drop it.
//
// Tokens are RS256 only, production's profile: a cluster's load balancer
// checks RS256 with the one PEM key it downloads. Keys must be RSA_2048
// (production's spec; RSA_3072 and RSA_4096 sign RS256 too) with usage
// SIGN_VERIFY, and sign with RSASSA_PKCS1_V1_5_SHA_256. A key of any other
// spec, ECC_NIST_P256 included, is refused at first use with an error
// saying to create an RSA_2048 SIGN_VERIFY key. Messages are always sent
// with MessageType RAW: KMS hashes them itself.
//
// Key ids ("kid") are the RFC 7638 SHA-256 thumbprints of the public keys,
// as for the local keyring. A thumbprint is derived from what every verifier
// already holds (the JWKS), so anyone can recompute it; it names the key
// material itself, so an alias, a key id and an ARN of one key give one kid,
// and re-pointing an alias can never make one kid name two keys; and it
// reveals nothing of the account, region or key ARN. It costs no extra call:
// the public key must be fetched before the first signature anyway, to check
// its spec.
//
// Nothing touches the network at construction (Lambda cold starts): each
// public key is fetched with GetPublicKey on first use and cached for the
// life of the Signer (KMS never changes an asymmetric key's material).
package kms

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/go-jose/go-jose/v4"

	"provisioner"
)

// AlgRS256 is the one JWS algorithm a Signer produces.
const AlgRS256 = "RS256"

// minRSABits is the smallest RSA key a Signer uses: production's RSA_2048.
const minRSABits = 2048

// createKeyHint is what every refusal of a key's spec or usage says to do.
const createKeyHint = "create an RSA_2048 key with usage SIGN_VERIFY (tokens are RS256 only)"

// MaxMessageSize is the largest signing input KMS signs as a RAW message.
// Our tokens are well under 1 KiB.
const MaxMessageSize = 4096

// DefaultRetryAfter is how long a failed key lookup is remembered before
// KMS is asked again, so a stream of requests with made-up kids (or a KMS
// outage) does not turn into a stream of GetPublicKey calls.
const DefaultRetryAfter = 5 * time.Second

// maxKeys bounds the configuration: every listed key is published.
const maxKeys = 20

// API is the part of the KMS client a Signer uses; *kms.Client implements it.
type API interface {
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, optFns ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *awskms.SignInput, optFns ...func(*awskms.Options)) (*awskms.SignOutput, error)
}

// Signer implements provisioner.Signer with KMS keys. It is safe for
// concurrent use; once the keys are loaded, everything but Sign answers
// from memory.
type Signer struct {
	api        API
	keys       []*key // configuration order; keys[0] signs
	retryAfter time.Duration
	now        func() time.Time
}

var _ provisioner.Signer = (*Signer)(nil)

// Option adjusts a Signer.
type Option func(*Signer)

// WithRetryAfter sets how long a failed key lookup is remembered
// (DefaultRetryAfter; zero or negative: not at all).
func WithRetryAfter(d time.Duration) Option {
	return func(s *Signer) { s.retryAfter = d }
}

// key is one configured KMS key.
type key struct {
	pos  int    // 1-based position in the configuration, for messages
	id   string // as configured: key id, ARN, alias name or alias ARN
	res  atomic.Pointer[resolved]
	lock chan struct{} // one GetPublicKey at a time; waiters honour ctx

	// guarded by lock
	failedAt time.Time
	failErr  error
}

// resolved is what GetPublicKey told about a key. It never changes.
type resolved struct {
	keyID   string // the key id or ARN KMS answered: Sign uses it, pinning an alias
	pub     provisioner.PublicKey
	signAlg types.SigningAlgorithmSpec
}

// New returns a Signer for the KMS keys ids (key ids, key ARNs, alias names
// "alias/…" or alias ARNs): ids[0] signs, all are published. It checks only
// the list itself and makes no call to KMS; Check does.
func New(api API, ids []string, opts ...Option) (*Signer, error) {
	if api == nil {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "KMS signer needs a KMS client")
	}
	if len(ids) == 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "KMS signer needs at least one key id")
	}
	if len(ids) > maxKeys {
		return nil, provisioner.Errorf(provisioner.EINVALID, "KMS signer takes at most %d key ids", maxKeys)
	}
	s := &Signer{api: api, retryAfter: DefaultRetryAfter, now: time.Now}
	seen := map[string]bool{}
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 2048 || strings.ContainsAny(id, " \t\r\n,") {
			return nil, provisioner.Errorf(provisioner.EINVALID, "KMS key id #%d is not a key id, ARN or alias", i+1)
		}
		if seen[id] {
			return nil, provisioner.Errorf(provisioner.EINVALID, "KMS key id #%d is listed twice", i+1)
		}
		seen[id] = true
		s.keys = append(s.keys, &key{pos: i + 1, id: id, lock: make(chan struct{}, 1)})
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// NewFromConfig is New with a KMS client made from cfg.
func NewFromConfig(cfg aws.Config, ids []string, opts ...Option) (*Signer, error) {
	return New(awskms.NewFromConfig(cfg), ids, opts...)
}

// ParseKeyIDs splits a comma-separated list of key ids (as in an
// environment variable), dropping blanks.
func ParseKeyIDs(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// KeyIDs returns the configured KMS key ids, the signing one first.
func (s *Signer) KeyIDs() []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.id
	}
	return out
}

// Check loads every configured key and reports the first that cannot be
// used: for a deployment check or a startup probe that may touch the
// network. It ignores remembered failures, so it always asks KMS about
// keys not yet loaded.
func (s *Signer) Check(ctx context.Context) error {
	for _, k := range s.keys {
		if _, err := s.load(ctx, k, true); err != nil {
			return err
		}
	}
	return nil
}

// Sign signs signingInput with the first configured key and returns the JWS
// signature, the key's kid and its algorithm. Each call is one KMS Sign
// request (plus one GetPublicKey the first time). The signature is checked
// against the published public key before it is returned, so a token that
// would not verify is never issued.
func (s *Signer) Sign(ctx context.Context, signingInput []byte) ([]byte, string, string, error) {
	if len(signingInput) == 0 || len(signingInput) > MaxMessageSize {
		return nil, "", "", provisioner.Errorf(provisioner.EINTERNAL, "token is too large to sign")
	}
	k := s.keys[0]
	r, err := s.load(ctx, k, false)
	if err != nil {
		return nil, "", "", err
	}
	out, err := s.api.Sign(ctx, &awskms.SignInput{
		KeyId:            aws.String(r.keyID),
		Message:          signingInput,
		MessageType:      types.MessageTypeRaw,
		SigningAlgorithm: r.signAlg,
	})
	if err != nil {
		return nil, "", "", kmsError(ctx, err, "cannot sign token", fmt.Sprintf("sign with KMS key #%d %s", k.pos, k.id))
	}
	sig, err := jwsSignature(r.pub, out.Signature)
	if err == nil {
		err = verify(r.pub, signingInput, sig)
	}
	if err != nil {
		return nil, "", "", provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("KMS key #%d %s: %w", k.pos, k.id, err), "cannot sign token")
	}
	return sig, r.pub.ID, r.pub.Algorithm, nil
}

// Current returns the kid and algorithm of the key Sign uses.
func (s *Signer) Current(ctx context.Context) (string, string, error) {
	r, err := s.load(ctx, s.keys[0], false)
	if err != nil {
		return "", "", err
	}
	return r.pub.ID, r.pub.Algorithm, nil
}

// PublicKey returns the configured key whose kid is kid, or ENOTFOUND. Once
// every key is loaded it makes no call to KMS, whatever the kid; until then
// an unknown kid loads the keys not yet loaded (failures are remembered for
// the retry interval, so made-up kids cannot flood KMS).
func (s *Signer) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	complete := true
	for _, k := range s.keys {
		r := k.res.Load()
		if r == nil {
			complete = false
		} else if r.pub.ID == kid {
			return r.pub, nil
		}
	}
	if !complete {
		var firstErr error
		for _, k := range s.keys {
			if k.res.Load() != nil {
				continue
			}
			r, err := s.load(ctx, k, false)
			switch {
			case err != nil:
				firstErr = cmp(firstErr, err)
			case r.pub.ID == kid:
				return r.pub, nil
			}
		}
		if firstErr != nil {
			// Some key could not be loaded: kid may be that key's.
			return provisioner.PublicKey{}, firstErr
		}
	}
	return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "unknown signing key")
}

// PublicKeys returns every configured key, the signing key first, in
// configuration order (a key listed twice under different names, once).
// It fails if any key cannot be loaded: leaving a key out of the JWKS would
// silently invalidate the tokens it signed.
func (s *Signer) PublicKeys(ctx context.Context) ([]provisioner.PublicKey, error) {
	res := make([]*resolved, len(s.keys))
	errs := make([]error, len(s.keys))
	var wg sync.WaitGroup
	for i, k := range s.keys {
		if res[i] = k.res.Load(); res[i] != nil {
			continue
		}
		wg.Go(func() { res[i], errs[i] = s.load(ctx, k, false) })
	}
	wg.Wait()
	out := make([]provisioner.PublicKey, 0, len(s.keys))
	seen := map[string]bool{}
	for i, r := range res {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if !seen[r.pub.ID] {
			seen[r.pub.ID] = true
			out = append(out, r.pub)
		}
	}
	return out, nil
}

// cmp keeps the first error, preferring EUNAVAILABLE (worth a retry) to
// anything else.
func cmp(first, err error) error {
	if first == nil || provisioner.ErrorCode(err) == provisioner.EUNAVAILABLE && provisioner.ErrorCode(first) != provisioner.EUNAVAILABLE {
		return err
	}
	return first
}

// load returns k's public key, fetching it once. A failure is remembered
// for the retry interval unless fresh is set; a caller's own cancellation
// is never remembered.
func (s *Signer) load(ctx context.Context, k *key, fresh bool) (*resolved, error) {
	if r := k.res.Load(); r != nil {
		return r, nil
	}
	select {
	case k.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, ctx.Err(), "signing key unavailable")
	}
	defer func() { <-k.lock }()
	if r := k.res.Load(); r != nil {
		return r, nil
	}
	if !fresh && k.failErr != nil && s.now().Sub(k.failedAt) < s.retryAfter {
		return nil, k.failErr
	}
	r, err := s.fetch(ctx, k)
	if err != nil {
		if ctx.Err() == nil {
			k.failedAt, k.failErr = s.now(), err
		}
		return nil, err
	}
	k.failErr = nil
	k.res.Store(r)
	return r, nil
}

// fetch asks KMS for k's public key and checks that it can sign JWTs.
func (s *Signer) fetch(ctx context.Context, k *key) (*resolved, error) {
	what := fmt.Sprintf("KMS key #%d %s", k.pos, k.id)
	out, err := s.api.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(k.id)})
	if err != nil {
		if apiCode(err) == "UnsupportedOperationException" || apiCode(err) == "InvalidKeyUsageException" {
			// What AWS answers for a symmetric or HMAC key.
			err = fmt.Errorf("not an asymmetric signing key: %w", err)
		}
		return nil, kmsError(ctx, err, "signing key unavailable", "get public key of "+what)
	}
	r, err := resolve(out)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s: %w", what, err), "signing key is misconfigured")
	}
	if r.keyID == "" {
		r.keyID = k.id
	}
	return r, nil
}

// resolve turns a GetPublicKey answer into a JWS key: the key must be an RSA
// signing key (RSA_2048, RSA_3072 or RSA_4096, usage SIGN_VERIFY) that KMS
// lets sign with RSASSA_PKCS1_V1_5_SHA_256, as RS256 needs.
func resolve(out *awskms.GetPublicKeyOutput) (*resolved, error) {
	spec := string(out.KeySpec)
	if spec == "" {
		// The emulator (moto) fills only the deprecated twin field.
		spec = string(out.CustomerMasterKeySpec) //lint:ignore SA1019 moto sets only CustomerMasterKeySpec
	}
	if out.KeyUsage != "" && out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("key spec %s with usage %s is not an asymmetric signing key: %s", spec, out.KeyUsage, createKeyHint)
	}
	switch types.KeySpec(spec) {
	case types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096:
	default:
		return nil, fmt.Errorf("key spec %q cannot sign RS256 tokens: %s", spec, createKeyHint)
	}
	r := &resolved{keyID: aws.ToString(out.KeyId), signAlg: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256}
	r.pub.Algorithm = AlgRS256
	if len(out.SigningAlgorithms) > 0 && !hasAlg(out.SigningAlgorithms, r.signAlg) {
		return nil, fmt.Errorf("key spec %s does not offer %s", spec, r.signAlg)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	p, ok := pub.(*rsa.PublicKey)
	if !ok || p.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("public key of type %T does not match key spec %s", pub, spec)
	}
	r.pub.Key = p
	if r.pub.ID, err = Thumbprint(p); err != nil {
		return nil, err
	}
	return r, nil
}

func hasAlg(list []types.SigningAlgorithmSpec, a types.SigningAlgorithmSpec) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// Thumbprint returns the RFC 7638 SHA-256 JWK thumbprint of pub, base64url
// without padding: the kid of a KMS key (and of a local keyring key).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	b, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// jwsSignature checks a KMS RSASSA-PKCS1-v1_5 signature, which is already
// what RS256 wants, for the modulus size.
func jwsSignature(pub provisioner.PublicKey, sig []byte) ([]byte, error) {
	p, ok := pub.Key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("unsupported key type")
	}
	if len(sig) != p.Size() {
		return nil, fmt.Errorf("RSA signature is %d bytes, want %d", len(sig), p.Size())
	}
	return sig, nil
}

// verify checks an RS256 signature against the public key.
func verify(pub provisioner.PublicKey, input, sig []byte) error {
	p, ok := pub.Key.(*rsa.PublicKey)
	if !ok {
		return errors.New("unsupported key type")
	}
	digest := sha256.Sum256(input)
	if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, digest[:], sig); err != nil {
		return errors.New("KMS signature does not verify against the public key")
	}
	return nil
}
