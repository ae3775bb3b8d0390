package kms_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"provisioner"
	"provisioner/jwt"
)

// BenchmarkSign measures one KMS Sign round trip to the emulator (moto over
// loopback HTTP) plus the local RS256 verification: it is
// bound by the emulator, not by this package, and says nothing about the
// latency of real KMS (typically a few to tens of milliseconds).
func BenchmarkSign(b *testing.B) {
	c, _ := emulator(b)
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072} {
		b.Run(string(spec), func(b *testing.B) {
			s := newSigner(b, c, signingKey(b, c, spec))
			if _, _, err := s.Current(ctx); err != nil { // load the public key once
				b.Fatal(err)
			}
			in := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9")
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := s.Sign(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssueUser is a whole jwt_user issued through the KMS signer.
func BenchmarkIssueUser(b *testing.B) {
	c, _ := emulator(b)
	s := newSigner(b, c, signingKey(b, c, types.KeySpecRsa2048))
	tokens := jwt.New(jwt.Config{Issuer: issuer, Signer: s})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tokens.IssueUser(ctx, alice, []string{provisioner.AudienceAll}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublicKey is a kid lookup once the keys are loaded: memory only.
func BenchmarkPublicKey(b *testing.B) {
	c, _ := emulator(b)
	s := newSigner(b, c, signingKey(b, c, types.KeySpecRsa2048), signingKey(b, c, types.KeySpecRsa2048))
	keys, err := s.PublicKeys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	kid := keys[1].ID
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PublicKey(ctx, kid); err != nil {
			b.Fatal(err)
		}
	}
}
