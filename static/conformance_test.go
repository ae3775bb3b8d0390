package static

import (
	"testing"

	"provisioner"
	"provisioner/conformance"
)

func TestConformance(t *testing.T) {
	conformance.IdentityProvider(t, func(t *testing.T) conformance.Identity {
		p, err := Parse([]byte(`{"org":"sliderule","users":[
			{"token":"admin-token-1","login":"ada","id":1,"level":"admin"},
			{"token":"member-token-1","login":"bob","id":2,"level":"member"},
			{"token":"orgmember-1","login":"cy","id":3,"level":"org_member"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return conformance.Identity{Provider: p, Users: map[string]provisioner.User{
			"admin-token-1":  {Login: "ada", ID: 1, Level: provisioner.LevelAdmin, Org: "sliderule"},
			"member-token-1": {Login: "bob", ID: 2, Level: provisioner.LevelMember},
			"orgmember-1":    {Login: "cy", ID: 3, Level: provisioner.LevelOrgMember, Org: "sliderule"},
		}}
	})
}
