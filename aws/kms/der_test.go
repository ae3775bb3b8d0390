package kms_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"

	"provisioner/aws/kms"
)

func TestDERToJWS(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	for range 64 { // short r or s (leading zero bytes) come up now and then
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig, err := kms.DERToJWS(der, 32)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("%d bytes", len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(&priv.PublicKey, digest[:], r, s) {
			t.Fatal("converted signature does not verify")
		}
	}

	enc := func(r, s *big.Int) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, big256 := big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 256)
	short := kmsMust(kms.DERToJWS(enc(one, big.NewInt(2)), 32))
	if want := append(append(make([]byte, 31), 1), append(make([]byte, 31), 2)...); !bytes.Equal(short, want) {
		t.Fatalf("small values not left-padded: %x", short)
	}
	for name, der := range map[string][]byte{
		"empty":               nil,
		"garbage":             []byte("not a signature"),
		"trailing":            append(enc(one, one), 0),
		"zero r":              enc(big.NewInt(0), one),
		"negative s":          enc(one, big.NewInt(-1)),
		"r too big":           enc(big256, one),
		"one int":             kmsMust(asn1.Marshal(struct{ R *big.Int }{one})),
		"non-minimal integer": {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01},
		"extra element":       {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
	} {
		if _, err := kms.DERToJWS(der, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func kmsMust(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzDERToJWS(f *testing.F) {
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		sig, err := kms.DERToJWS(der, 32)
		if err != nil {
			return
		}
		// Whatever is accepted is exactly the strict DER of the result.
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		back, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil || !bytes.Equal(back, der) {
			t.Fatalf("accepted %x, which re-encodes as %x", der, back)
		}
	})
}
