package api

import (
	"encoding/json"
	"testing"
	"time"

	"provisioner"
)

// TestMetadataWire: login metadata carries production's shapes: "aud" a
// list, "org_roles" a list even when there is no role (never null).
func TestMetadataWire(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		claims     provisioner.Claims
		aud, roles string
	}{
		"member, nil roles": {provisioner.Claims{Subject: "mia", Level: provisioner.LevelMember, Audience: []string{"provisioner", "pub"}},
			`["provisioner","pub"]`, `[]`},
		"member, empty roles": {provisioner.Claims{Subject: "mia", Level: provisioner.LevelMember, OrgRoles: []string{}, Audience: []string{"provisioner"}},
			`["provisioner"]`, `[]`},
		"admin": {provisioner.Claims{Subject: "ada", Level: provisioner.LevelAdmin, Org: "o", OrgRoles: []string{"owner", "member"},
			Audience: []string{"provisioner", "runner", "monitor", "*"}},
			`["provisioner","runner","monitor","*"]`, `["owner","member"]`},
	} {
		t.Run(name, func(t *testing.T) {
			c := tc.claims
			c.Issuer, c.IssuedAt, c.NotBefore, c.ExpiresAt, c.ID = "https://p.example.org", at, at, at.Add(24*time.Hour), "j"
			b, err := json.Marshal(MetadataOf(c))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if string(m["aud"]) != tc.aud || string(m["org_roles"]) != tc.roles {
				t.Errorf("aud %s org_roles %s, want %s %s", m["aud"], m["org_roles"], tc.aud, tc.roles)
			}
			if string(m["iat"]) != "1780315200" || string(m["exp"]) != "1780401600" || string(m["sub"]) != `"`+c.Subject+`"` {
				t.Errorf("metadata %s", b)
			}
		})
	}
}
