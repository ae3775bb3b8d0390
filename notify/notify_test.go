package notify

import (
	"slices"
	"testing"

	"provisioner"
)

func TestAddresses(t *testing.T) {
	for _, bad := range []string{"", "ops", "Ops <ops@example.org>", "ops@example.org\r\nBcc: x@evil.org", "<ops@example.org>", "a@b@c"} {
		if _, err := Address(bad); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Address(%q) = %v", bad, err)
		}
	}
	if _, err := Addresses(nil); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Error("no addresses accepted")
	}
	got, err := Addresses([]string{"ops@example.org", "oncall@example.org"})
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
}

// TestRecipients: the owner's address joins the sink's once; what is not
// an address is dropped.
func TestRecipients(t *testing.T) {
	n := provisioner.Notice{To: []string{"OPS@example.org", "ada@example.org", "not an address", "ada@example.org"}}
	if got := Recipients([]string{"ops@example.org"}, n); !slices.Equal(got, []string{"ops@example.org", "ada@example.org"}) {
		t.Fatalf("%v", got)
	}
}
