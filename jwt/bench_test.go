package jwt

import (
	"context"
	"testing"
	"time"

	"provisioner"
)

// The benchmarks use the local keyring, the production signer: RS256 with
// RSA-2048 keys.

func benchTokens(b *testing.B) *Tokens {
	return New(Config{Issuer: issuer, Signer: keyring(b)})
}

// orgAudience is what an organization member's jwt_user carries.
var orgAudience = []string{provisioner.AudienceRunner, provisioner.AudienceMonitor, provisioner.AudienceAll}

func BenchmarkIssueUser(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := toks.IssueUser(ctx, alice, orgAudience); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueClusterReuseHit is ACCESS again within half a token's
// lifetime: the cached jwt_cluster, no signature.
func BenchmarkIssueClusterReuseHit(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	if _, _, err := toks.IssueCluster(ctx, alice, "foo"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := toks.IssueCluster(ctx, alice, "foo"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueClusterReuseMiss is ACCESS once the cached token is past
// half its lifetime: the clock moves a whole ClusterTTL per call, so every
// call signs a new token and replaces the cached one.
func BenchmarkIssueClusterReuseMiss(b *testing.B) {
	var now time.Time
	toks := New(Config{Issuer: issuer, Signer: keyring(b), Now: func() time.Time { return now }})
	ctx := context.Background()
	now = time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(DefaultClusterTTL)
		if _, _, err := toks.IssueCluster(ctx, alice, "foo"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUser(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	tok, _, err := toks.IssueUser(ctx, alice, orgAudience)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		toks.verified = newVerifiedCache() // the full check every time
		if _, err := toks.VerifyUser(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUserRemembered is a jwt_user seen again within the
// verified cache's time: what a client calling in a loop costs.
func BenchmarkVerifyUserRemembered(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	tok, _, err := toks.IssueUser(ctx, alice, orgAudience)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := toks.VerifyUser(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCluster(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	tok, _, err := toks.IssueCluster(ctx, alice, "foo")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := toks.VerifyCluster(ctx, tok, "foo"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyClusterParallel is the gateway's load: many requests at once.
func BenchmarkVerifyClusterParallel(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	tok, _, err := toks.IssueCluster(ctx, alice, "foo")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := toks.VerifyCluster(ctx, tok, "foo"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
