package notify

import (
	"context"
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

func TestConfig(t *testing.T) {
	sinks, err := Config{WebhookURL: "https://hooks.example.org/p", WebhookSecret: "0123456789abcdef0123",
		SlackURL: "https://hooks.slack.example/services/T/B/X", DashboardURL: "https://provisioner.example.org"}.HTTPSinks()
	if err != nil || len(sinks) != 2 || sinks[0].Name() != "webhook" || sinks[1].Name() != "slack" {
		t.Fatalf("%v %v", sinks, err)
	}
	if sinks, err := (Config{}).HTTPSinks(); err != nil || len(sinks) != 0 {
		t.Fatalf("none: %v %v", sinks, err)
	}
	for name, c := range map[string]Config{
		"short secret":     {WebhookURL: "https://h.example/p", WebhookSecret: "short"},
		"no secret":        {WebhookURL: "https://h.example/p"},
		"secret alone":     {WebhookSecret: "0123456789abcdef0123"},
		"bad slack":        {SlackURL: "hooks.slack.com/x"},
		"bad dashboard":    {DashboardURL: "javascript:alert(1)"},
		"dashboard query":  {DashboardURL: "https://d.example/?x=1"},
		"webhook with pwd": {WebhookURL: "https://u:p@h.example/p", WebhookSecret: "0123456789abcdef0123"},
	} {
		if _, err := c.HTTPSinks(); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

type knows struct{}

func (knows) Email(context.Context, string) (string, error) { return "a@example.org", nil }

// TestContacts: owners get email only when email is configured, asked
// for, and the identity knows addresses.
func TestContacts(t *testing.T) {
	email := Config{EmailFrom: "p@example.org", EmailTo: []string{"o@example.org"}, Owners: true}
	if email.Contacts(knows{}) == nil {
		t.Error("no contacts with email and owners on")
	}
	if email.Contacts(struct{}{}) != nil {
		t.Error("contacts from an identity that knows no addresses")
	}
	off := email
	off.Owners = false
	if off.Contacts(knows{}) != nil || (Config{Owners: true}).Contacts(knows{}) != nil {
		t.Error("contacts without email or with owners off")
	}
}

func TestDashboard(t *testing.T) {
	for url, want := range map[string]string{"": "https://provisioner.example.org", "none": "",
		"https://dash.example.org/": "https://dash.example.org"} {
		if got := (Config{DashboardURL: url}).Dashboard("https://provisioner.example.org/"); got != want {
			t.Errorf("%q: %q, want %q", url, got, want)
		}
	}
	if _, err := (Config{DashboardURL: "none"}).HTTPSinks(); err != nil {
		t.Error(err)
	}
}
