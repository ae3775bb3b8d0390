package jwt

import (
	"context"
	"testing"
)

// The benchmarks use the local keyring, the production signer.

func benchTokens(b *testing.B) *Tokens {
	return New(Config{Issuer: issuer, Signer: keyring(b)})
}

func BenchmarkIssueUser(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := toks.IssueUser(ctx, alice); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueCluster(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := toks.IssueCluster(ctx, alice, "foo"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUser(b *testing.B) {
	toks, ctx := benchTokens(b), context.Background()
	tok, _, err := toks.IssueUser(ctx, alice)
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
