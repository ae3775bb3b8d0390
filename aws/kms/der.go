package kms

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"math/big"
)

// DERToJWS converts a DER-encoded ECDSA signature (SEQUENCE { r INTEGER,
// s INTEGER }, as KMS returns it for ECC keys) to the JWS form: r and s as
// big-endian unsigned integers of size bytes each, concatenated (RFC 7518
// §3.4; size is 32 for ES256). Anything but one strict DER sequence of two
// positive integers that fit is refused. The Signer no longer calls it, as
// tokens are RS256 only; it is kept, with its fuzz corpus, for now.
func DERToJWS(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, errors.New("ECDSA signature is not DER: " + err.Error())
	}
	if len(rest) != 0 {
		return nil, errors.New("ECDSA signature has trailing data")
	}
	// encoding/asn1 skips elements after the last field of a SEQUENCE;
	// re-encoding and comparing refuses those and any other slack.
	if strict, err := asn1.Marshal(sig); err != nil || !bytes.Equal(strict, der) {
		return nil, errors.New("ECDSA signature is not strict DER")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > size*8 || sig.S.BitLen() > size*8 {
		return nil, errors.New("ECDSA signature values are out of range")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
