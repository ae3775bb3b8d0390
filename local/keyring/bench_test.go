package keyring

import (
	"context"
	"testing"
)

func BenchmarkSign(b *testing.B) {
	k := open(b, Config{Dir: b.TempDir()})
	ctx := context.Background()
	msg := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := k.Sign(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublicKey(b *testing.B) {
	k := open(b, Config{Dir: b.TempDir()})
	ctx := context.Background()
	kid, _, _ := k.Current(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.PublicKey(ctx, kid); err != nil {
			b.Fatal(err)
		}
	}
}
