package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
)

// wireClaims is the JSON payload of both token kinds. It implements
// jwt.Claims so golang-jwt validates exp, nbf, iat and iss.
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	UID       int64            `json:"uid"`
	Level     string           `json:"level"`
	Org       string           `json:"org,omitempty"`
	Audience  audience         `json:"aud"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	ExpiresAt *jwt.NumericDate `json:"exp,omitempty"`
	ID        string           `json:"jti,omitempty"`
}

func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *wireClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *wireClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings(c.Audience), nil
}

// claims converts verified wire claims into the domain's.
func (c *wireClaims) claims(level provisioner.Level) provisioner.Claims {
	out := provisioner.Claims{
		Subject:   c.Subject,
		UID:       c.UID,
		Level:     level,
		Org:       c.Org,
		Issuer:    c.Issuer,
		IssuedAt:  timeOf(c.IssuedAt),
		NotBefore: timeOf(c.NotBefore),
		ExpiresAt: timeOf(c.ExpiresAt),
		ID:        c.ID,
	}
	if len(c.Audience) == 1 {
		out.Audience = c.Audience[0]
	}
	return out
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time.UTC()
}

func numericDate(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }

// audience is "aud": written as a single string, read from a string or an
// array, so that the verifier can refuse any token with more than one.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) != 1 {
		return nil, errors.New("audience must have exactly one value")
	}
	return json.Marshal(a[0])
}

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var v []string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*a = v
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = audience{s}
	return nil
}
