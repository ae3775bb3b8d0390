package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
)

// wireClaims is the JSON payload of both token kinds: production's claims
// (iss, sub, aud, org_roles, org, iat, exp) and ours (uid, level, nbf, jti).
// It implements jwt.Claims so golang-jwt validates exp, nbf, iat and iss.
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  audience         `json:"aud"`
	OrgRoles  []string         `json:"org_roles"`
	Org       string           `json:"org,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	ExpiresAt *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	UID       int64            `json:"uid"`
	Level     string           `json:"level"`
	ID        string           `json:"jti,omitempty"`
	// Teams are the organization teams the identity provider found the
	// user in at login (login tokens only): who may manage clusters
	// shared with a team.
	Teams []string `json:"teams,omitempty"`
	SID   string   `json:"sid,omitempty"`
}

func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *wireClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *wireClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings(c.Audience.values), nil
}

// claims converts verified wire claims into the domain's.
func (c *wireClaims) claims(typ string, level provisioner.Level) provisioner.Claims {
	return provisioner.Claims{
		Type:      typ,
		Subject:   c.Subject,
		UID:       c.UID,
		Level:     level,
		Org:       c.Org,
		OrgRoles:  append([]string{}, c.OrgRoles...),
		Audience:  append([]string(nil), c.Audience.values...),
		Issuer:    c.Issuer,
		IssuedAt:  timeOf(c.IssuedAt),
		NotBefore: timeOf(c.NotBefore),
		ExpiresAt: timeOf(c.ExpiresAt),
		ID:        c.ID,
		Teams:     append([]string(nil), c.Teams...),
		Session:   c.SID,
	}
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time.UTC()
}

func numericDate(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }

// audience is "aud": a list in a jwt_user, as production's login tokens
// carry it, and one string in a jwt_cluster. Reading accepts both and
// remembers which it was, so a verifier can insist on the right form.
type audience struct {
	values []string
	list   bool
}

func (a audience) MarshalJSON() ([]byte, error) {
	if a.list {
		return json.Marshal(append([]string{}, a.values...))
	}
	if len(a.values) != 1 {
		return nil, errors.New("a single audience must have exactly one value")
	}
	return json.Marshal(a.values[0])
}

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = audience{}
		return nil
	case len(b) > 0 && b[0] == '[':
		var v []string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*a = audience{values: v, list: true}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = audience{values: []string{s}}
	return nil
}

// cloneClaims copies the lists of c, which callers may change, for the
// token caches (reuse, verified). OrgRoles stays a list even when empty, as
// a full verification gives it ("org_roles": [], never null).
func cloneClaims(c provisioner.Claims) provisioner.Claims {
	c.Audience = append([]string(nil), c.Audience...)
	c.OrgRoles = append([]string{}, c.OrgRoles...)
	c.Teams = append([]string(nil), c.Teams...)
	return c
}
