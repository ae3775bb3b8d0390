// Package static is an identity provider read from a file, for local and
// offline use: each entry maps a token to a user and level. It answers on the
// same path as a GitHub personal access token, so SlideRule clients work
// unchanged against a provisioner that has no GitHub behind it.
package static

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"provisioner"
)

// File is the identity file's format.
type File struct {
	Org   string  `json:"org,omitempty"`
	Users []Entry `json:"users"`
}

// Entry is one user. Token is the secret in clear; TokenSHA256 (hex) lets an
// operator keep the clear token out of the file. One of the two is required.
type Entry struct {
	Token       string            `json:"token,omitempty"`
	TokenSHA256 string            `json:"token_sha256,omitempty"`
	Login       string            `json:"login"`
	ID          int64             `json:"id"`
	Level       provisioner.Level `json:"level"`
	Teams       []string          `json:"teams,omitempty"`
}

// Provider implements provisioner.IdentityProvider from a File.
type Provider struct {
	org   string
	users []user
}

type user struct {
	hash [sha256.Size]byte
	u    provisioner.User
}

var _ provisioner.IdentityProvider = (*Provider)(nil)

// Load reads an identity file.
func Load(path string) (*Provider, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("static identity: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("static identity %s: %w", path, err)
	}
	return p, nil
}

// Parse reads an identity file's contents, refusing unknown fields, duplicate
// tokens and logins, so a typo never silently grants or drops a user.
func Parse(b []byte) (*Provider, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	p := &Provider{org: f.Org}
	logins := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	for i, e := range f.Users {
		if e.Login == "" || strings.ContainsAny(e.Login, " \t\r\n") {
			return nil, fmt.Errorf("user %d: login is required and has no spaces", i+1)
		}
		if logins[e.Login] {
			return nil, fmt.Errorf("user %q appears twice", e.Login)
		}
		logins[e.Login] = true
		var h [sha256.Size]byte
		switch {
		case e.Token != "" && e.TokenSHA256 != "":
			return nil, fmt.Errorf("user %q: give token or token_sha256, not both", e.Login)
		case e.Token != "":
			if len(e.Token) < 8 {
				return nil, fmt.Errorf("user %q: token is shorter than 8 characters", e.Login)
			}
			h = sha256.Sum256([]byte(e.Token))
		case e.TokenSHA256 != "":
			raw, err := hex.DecodeString(e.TokenSHA256)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("user %q: token_sha256 must be 64 hex digits", e.Login)
			}
			copy(h[:], raw)
		default:
			return nil, fmt.Errorf("user %q: token or token_sha256 is required", e.Login)
		}
		if hashes[h] {
			return nil, fmt.Errorf("user %q: token is shared with another user", e.Login)
		}
		hashes[h] = true
		u := provisioner.User{Login: e.Login, ID: e.ID, Level: e.Level, Teams: e.Teams, Via: "static"}
		if e.Level >= provisioner.LevelOrgMember {
			u.Org = f.Org
		}
		p.users = append(p.users, user{hash: h, u: u})
	}
	if len(p.users) == 0 {
		return nil, fmt.Errorf("no users")
	}
	return p, nil
}

// LoginToken finds the user whose token matches, comparing hashes in constant
// time and visiting every entry so timing tells nothing about which matched.
func (p *Provider) LoginToken(_ context.Context, token string) (provisioner.User, error) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range p.users {
		if subtle.ConstantTimeCompare(h[:], p.users[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "unknown token")
	}
	return p.users[found].u, nil
}
