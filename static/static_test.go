package static

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"provisioner"
)

func TestLoginToken(t *testing.T) {
	sum := sha256.Sum256([]byte("hashed-token-1"))
	p, err := Parse([]byte(`{"org":"sliderule","users":[
		{"token":"admin-token-1","login":"ada","id":1,"level":"admin"},
		{"token_sha256":"` + hex.EncodeToString(sum[:]) + `","login":"bob","id":2,"level":"member"},
		{"token":"orgmember-1","login":"cy","id":3,"level":"org_member","teams":["dev"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token, login string
		level        provisioner.Level
		org          string
	}{
		{"admin-token-1", "ada", provisioner.LevelAdmin, "sliderule"},
		{"hashed-token-1", "bob", provisioner.LevelMember, ""},
		{"orgmember-1", "cy", provisioner.LevelOrgMember, "sliderule"},
	} {
		u, err := p.LoginToken(context.Background(), tc.token)
		if err != nil {
			t.Fatalf("%s: %v", tc.token, err)
		}
		if u.Login != tc.login || u.Level != tc.level || u.Org != tc.org || u.Via != "static" {
			t.Errorf("%s: got %+v", tc.token, u)
		}
	}
	for _, bad := range []string{"", "admin-token", "admin-token-1 ", "ADMIN-TOKEN-1"} {
		_, err := p.LoginToken(context.Background(), bad)
		if provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
			t.Errorf("%q: want unauthorized, got %v", bad, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"unknown field": {`{"users":[{"token":"12345678","login":"a","level":"admin","extra":1}]}`, "unknown field"},
		"bad level":     {`{"users":[{"token":"12345678","login":"a","level":"root"}]}`, "unknown level"},
		"no users":      {`{"users":[]}`, "no users"},
		"dup login":     {`{"users":[{"token":"12345678","login":"a","level":"admin"},{"token":"87654321","login":"a","level":"admin"}]}`, "twice"},
		"dup token":     {`{"users":[{"token":"12345678","login":"a","level":"admin"},{"token":"12345678","login":"b","level":"admin"}]}`, "shared"},
		"short token":   {`{"users":[{"token":"1234","login":"a","level":"admin"}]}`, "shorter"},
		"both tokens":   {`{"users":[{"token":"12345678","token_sha256":"00","login":"a","level":"admin"}]}`, "not both"},
		"bad hash":      {`{"users":[{"token_sha256":"zz","login":"a","level":"admin"}]}`, "64 hex"},
		"no token":      {`{"users":[{"login":"a","level":"admin"}]}`, "required"},
		"no login":      {`{"users":[{"token":"12345678","level":"admin"}]}`, "login"},
		"not json":      {`users: []`, "invalid JSON"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", name, tc.want, err)
		}
	}
}
