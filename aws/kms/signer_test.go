package kms_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/kms"
	"provisioner/jwt"
)

const issuer = "https://provisioner.example.org"

var (
	alice = provisioner.User{Login: "alice", ID: 42, Level: provisioner.LevelOrgMember, Org: "SlideRuleEarth"}
	ctx   = context.Background()
)

// emulator returns a KMS client for the emulator and a counter of its calls.
func emulator(t testing.TB) (*awskms.Client, *awsenv.Counter) {
	t.Helper()
	cfg := awstest.Config(t)
	n := awsenv.Count(&cfg)
	return awskms.NewFromConfig(cfg), n
}

// createKey makes a KMS key of the given spec and usage and returns its ARN.
// Keys are never deleted: the emulator is shared and forgets them on exit.
func createKey(t testing.TB, c *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{
		KeySpec: spec, KeyUsage: usage,
		Description: aws.String(awstest.Name("provisioner-kms-test")),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func signingKey(t testing.TB, c *awskms.Client, spec types.KeySpec) string {
	return createKey(t, c, spec, types.KeyUsageTypeSignVerify)
}

func newSigner(t testing.TB, c kms.API, ids ...string) *kms.Signer {
	t.Helper()
	s, err := kms.New(c, ids)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gateway returns what a gateway builds from the published JWKS: a verifier
// that knows nothing but the JSON document.
func gateway(t testing.TB, s provisioner.KeySet) *jwt.Tokens {
	t.Helper()
	keys, err := s.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwt.MarshalJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != len(keys) {
		t.Fatalf("JWKS round trip kept %d of %d keys: %s", len(parsed), len(keys), doc)
	}
	return jwt.New(jwt.Config{Issuer: issuer, Keys: jwt.StaticKeySet(parsed)})
}

// stdlibVerify checks a compact JWS with nothing but the standard library
// and the public key as KMS hands it out (DER SubjectPublicKeyInfo), so no
// emulator quirk or JWT library can make a wrong signature look right.
func stdlibVerify(t *testing.T, c *awskms.Client, keyID, token string) (header map[string]string) {
	t.Helper()
	out, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	p, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key %T, want RSA", pub)
	}
	if header["alg"] != "RS256" || len(sig) != p.Size() {
		t.Fatalf("alg %q with a %d-byte signature, want RS256 of %d", header["alg"], len(sig), p.Size())
	}
	if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RS256 signature does not verify with crypto/rsa: %v", err)
	}
	kid, err := kms.Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if header["kid"] != kid {
		t.Fatalf("kid %q, want the RFC 7638 thumbprint %q", header["kid"], kid)
	}
	return header
}

func TestSignAndVerify(t *testing.T) {
	c, _ := emulator(t)
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072} {
		t.Run(string(spec), func(t *testing.T) {
			t.Parallel()
			arn := signingKey(t, c, spec)
			s := newSigner(t, c, arn)
			issuerTokens := jwt.New(jwt.Config{Issuer: issuer, Signer: s})
			gw := gateway(t, s)

			user, uc, err := issuerTokens.IssueUser(ctx, alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			if h := stdlibVerify(t, c, arn, user); h["typ"] != provisioner.TypeUserToken || h["alg"] != "RS256" {
				t.Fatalf("header %v", h)
			}
			got, err := gw.VerifyUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != "alice" || got.ID != uc.ID || got.Level != provisioner.LevelOrgMember {
				t.Fatalf("claims %+v", got)
			}

			cluster, _, err := issuerTokens.IssueCluster(ctx, alice, "my-cluster")
			if err != nil {
				t.Fatal(err)
			}
			if h := stdlibVerify(t, c, arn, cluster); h["typ"] != provisioner.TypeClusterToken {
				t.Fatalf("header %v", h)
			}
			if _, err := gw.VerifyCluster(ctx, cluster, "my-cluster"); err != nil {
				t.Fatal(err)
			}
			// A jwt_user reaches a cluster only if its audience names it.
			if _, err := gw.VerifyCluster(ctx, user, "my-cluster"); provisioner.ErrorCode(err) != provisioner.EFORBIDDEN {
				t.Fatalf("jwt_user without the cluster at the cluster: %v", err)
			}
			// The jwt_cluster never opens the provisioner.
			if _, err := gw.VerifyUser(ctx, cluster); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
				t.Fatalf("jwt_cluster as jwt_user: %v", err)
			}
			// The issuer verifies with the signer as its key set too.
			if _, err := issuerTokens.VerifyUser(ctx, user); err != nil {
				t.Fatal(err)
			}

			kid, alg, err := s.Current(ctx)
			if err != nil || alg != "RS256" {
				t.Fatalf("Current = %q, %q, %v", kid, alg, err)
			}
			pk, err := s.PublicKey(ctx, kid)
			if err != nil || pk.Algorithm != "RS256" {
				t.Fatalf("PublicKey = %+v, %v", pk, err)
			}
		})
	}
}

func TestLazyAndCached(t *testing.T) {
	c, n := emulator(t)
	arn := signingKey(t, c, types.KeySpecRsa2048)
	n.Reset()
	s := newSigner(t, c, arn)
	if n.Total() != 0 {
		t.Fatalf("New called AWS: %v", n.Calls())
	}
	for range 3 {
		if _, _, _, err := s.Sign(ctx, []byte("header.payload")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "KMS.GetPublicKey=1 KMS.Sign=3"; strings.Join(n.Calls(), " ") != want {
		t.Fatalf("calls %v, want %s", n.Calls(), want)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	c, n := emulator(t)
	arn := signingKey(t, c, types.KeySpecRsa2048)
	s := newSigner(t, c, arn)
	n.Reset()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := s.Current(ctx); err != nil {
				t.Error(err)
			}
			if _, err := s.PublicKeys(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if want := "KMS.GetPublicKey=1"; strings.Join(n.Calls(), " ") != want {
		t.Fatalf("calls %v, want %s", n.Calls(), want)
	}
}

func TestRotation(t *testing.T) {
	c, _ := emulator(t)
	oldKey := signingKey(t, c, types.KeySpecRsa2048)
	newKey := signingKey(t, c, types.KeySpecRsa2048)

	before := newSigner(t, c, oldKey)
	oldTok, _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: before}).IssueUser(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Rotate: the new key goes in front; the old one is still published.
	during := newSigner(t, c, newKey, oldKey)
	newTok, _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: during}).IssueUser(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := stdlibVerify(t, c, newKey, newTok); h["alg"] != "RS256" {
		t.Fatalf("new token header %v", h)
	}
	newKid, _, _ := during.Current(ctx)
	keys, err := during.PublicKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != newKid || keys[0].Algorithm != "RS256" || keys[1].Algorithm != "RS256" {
		t.Fatalf("JWKS during rotation: %+v, %v", keys, err)
	}
	gw := gateway(t, during)
	for _, tok := range []string{oldTok, newTok} {
		if _, err := gw.VerifyUser(ctx, tok); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}

	// After the longest token lifetime the old key is dropped.
	after := gateway(t, newSigner(t, c, newKey))
	if _, err := after.VerifyUser(ctx, newTok); err != nil {
		t.Fatal(err)
	}
	if _, err := after.VerifyUser(ctx, oldTok); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("old token after the old key was dropped: %v", err)
	}
}

func TestAliasPinsKey(t *testing.T) {
	c, _ := emulator(t)
	arn := signingKey(t, c, types.KeySpecRsa2048)
	alias := "alias/" + awstest.Name("provisioner-kms")
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	s := newSigner(t, c, alias, arn)
	keys, err := s.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("one key under two names published %d times", len(keys))
	}
	tok, _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: s}).IssueUser(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	stdlibVerify(t, c, arn, tok)

	// Re-pointing the alias does not change what this signer signs with:
	// its kid keeps naming the key it loaded.
	other := signingKey(t, c, types.KeySpecRsa2048)
	if _, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	tok, _, err = jwt.New(jwt.Config{Issuer: issuer, Signer: s}).IssueUser(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	stdlibVerify(t, c, arn, tok)
}

func TestUnknownKid(t *testing.T) {
	c, n := emulator(t)
	s := newSigner(t, c, signingKey(t, c, types.KeySpecRsa2048))
	if _, err := s.PublicKey(ctx, "no-such-kid"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("unknown kid: %v", err)
	}
	n.Reset()
	for range 10 {
		if _, err := s.PublicKey(ctx, "another-kid"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n.Total() != 0 {
		t.Fatalf("unknown kids cost AWS calls once the keys are loaded: %v", n.Calls())
	}

	// A token naming a kid nobody published is unauthorized.
	other := newSigner(t, c, signingKey(t, c, types.KeySpecRsa2048))
	tok, _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: other}).IssueUser(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: s}).VerifyUser(ctx, tok); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("token of another key: %v", err)
	}
}

func TestUnusableKeys(t *testing.T) {
	c, _ := emulator(t)
	good := signingKey(t, c, types.KeySpecRsa2048)
	const rsaOnly = "create an RSA_2048 key with usage SIGN_VERIFY"
	for _, tc := range []struct {
		name, id, want string
	}{
		// ES256 is gone: an ECC key, the earlier default, is refused at
		// first use with what to create instead.
		{"ecc-p256", signingKey(t, c, types.KeySpecEccNistP256), `key spec "ECC_NIST_P256" cannot sign RS256 tokens: ` + rsaOnly},
		{"p384", signingKey(t, c, types.KeySpecEccNistP384), `key spec "ECC_NIST_P384" cannot sign RS256 tokens: ` + rsaOnly},
		{"rsa-encrypt", createKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt), "is not an asymmetric signing key: " + rsaOnly},
		{"symmetric", createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt), "not an asymmetric signing key"},
		{"hmac", createKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac), "not an asymmetric signing key"},
		{"missing", "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-4000-8000-000000000000", "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// As the signing key.
			s := newSigner(t, c, tc.id)
			err := s.Check(ctx)
			checkUnusable(t, err, tc.id, tc.want)
			_, _, _, err = s.Sign(ctx, []byte("a.b"))
			checkUnusable(t, err, tc.id, tc.want)
			_, _, err = s.Current(ctx)
			checkUnusable(t, err, tc.id, tc.want)
			_, _, err = jwt.New(jwt.Config{Issuer: issuer, Signer: s}).IssueUser(ctx, alice, nil)
			checkUnusable(t, err, tc.id, tc.want)

			// As a published (older) key: the JWKS fails rather than
			// silently dropping a key that may verify live tokens.
			s = newSigner(t, c, good, tc.id)
			if _, _, _, err := s.Sign(ctx, []byte("a.b")); err != nil {
				t.Fatalf("the signing key is fine: %v", err)
			}
			_, err = s.PublicKeys(ctx)
			checkUnusable(t, err, tc.id, tc.want)
			err = s.Check(ctx)
			checkUnusable(t, err, tc.id, tc.want)
		})
	}
}

func checkUnusable(t *testing.T, err error, id, want string) {
	t.Helper()
	if provisioner.ErrorCode(err) != provisioner.EINTERNAL {
		t.Fatalf("error %v, want %s", err, provisioner.EINTERNAL)
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), id) {
		t.Fatalf("error %q does not say %q about %s", err, want, id)
	}
	if msg := provisioner.ErrorMessage(err); strings.Contains(msg, "arn:") || strings.Contains(msg, "KMS key #") {
		t.Fatalf("caller-visible message leaks the configuration: %q", msg)
	}
}

func TestUnavailable(t *testing.T) {
	awstest.Endpoint(t) // same gating as the other tests
	cfg, err := awsenv.Load(ctx, awsenv.Options{Region: awstest.Region, Endpoint: "http://127.0.0.1:1",
		StaticCredentials: &aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	n := awsenv.Count(&cfg)
	s, err := kms.New(awskms.NewFromConfig(cfg), []string{"alias/provisioner"}, kms.WithRetryAfter(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = s.Sign(ctx, []byte("a.b"))
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("KMS unreachable: %v", err)
	}
	if msg := provisioner.ErrorMessage(err); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "alias/") {
		t.Fatalf("caller-visible message leaks internals: %q", msg)
	}
	// The failure is remembered: more requests do not hammer KMS.
	for range 5 {
		if _, err := s.PublicKey(ctx, "some-kid"); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
			t.Fatalf("unknown kid while KMS is unreachable: %v", err)
		}
	}
	if n.Total() != 1 {
		t.Fatalf("calls %v, want one", n.Calls())
	}
	// Check asks again.
	if err := s.Check(ctx); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || n.Total() != 2 {
		t.Fatalf("Check: %v, calls %v", err, n.Calls())
	}

	// A cancelled caller is unavailable too, and is not remembered.
	s, _ = kms.New(awskms.NewFromConfig(cfg), []string{"alias/provisioner"})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Current(cctx); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	c := awskms.New(awskms.Options{Region: awstest.Region}) // never called
	for _, ids := range [][]string{nil, {}, {""}, {"  "}, {"a b"}, {"a,b"}, {"k", "k"}, make([]string, 21)} {
		if _, err := kms.New(c, ids); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("New(%q) = %v, want %s", ids, err, provisioner.EINVALID)
		}
	}
	if _, err := kms.New(nil, []string{"k"}); err == nil {
		t.Error("New without a client succeeded")
	}
	s, err := kms.New(c, kms.ParseKeyIDs(" alias/new, ,arn:aws:kms:us-west-2:1:key/x ,"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.KeyIDs(), " "); got != "alias/new arn:aws:kms:us-west-2:1:key/x" {
		t.Fatalf("KeyIDs = %q", got)
	}
}

func TestSignRefusesOversizedInput(t *testing.T) {
	c := awskms.New(awskms.Options{Region: awstest.Region}) // never called
	s := newSigner(t, c, "alias/x")
	for _, in := range [][]byte{nil, make([]byte, kms.MaxMessageSize+1)} {
		if _, _, _, err := s.Sign(ctx, in); provisioner.ErrorCode(err) != provisioner.EINTERNAL {
			t.Fatalf("Sign(%d bytes) = %v", len(in), err)
		}
	}
}

// digestSigner sends what a crypto.Signer-style client would: the SHA-256
// digest with MessageType DIGEST. The emulator hashes it again (see
// notes/moto.md), producing a signature of the wrong message; the Signer's
// own check must refuse it rather than issue a token no one can verify.
type digestSigner struct{ *awskms.Client }

func (d digestSigner) Sign(ctx context.Context, in *awskms.SignInput, opts ...func(*awskms.Options)) (*awskms.SignOutput, error) {
	digest := sha256.Sum256(in.Message)
	cp := *in
	cp.Message, cp.MessageType = digest[:], types.MessageTypeDigest
	return d.Client.Sign(ctx, &cp, opts...)
}

func TestWrongSignatureNeverIssued(t *testing.T) {
	c, _ := emulator(t)
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072} {
		s := newSigner(t, digestSigner{c}, signingKey(t, c, spec))
		_, _, _, err := s.Sign(ctx, []byte("header.payload"))
		if provisioner.ErrorCode(err) != provisioner.EINTERNAL || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("%s: a signature of the wrong message was returned: %v", spec, err)
		}
	}
}
