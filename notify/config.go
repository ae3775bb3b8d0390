package notify

import (
	"net/url"
	"strings"
	"time"

	"provisioner"
	"provisioner/notify/webhook"
)

// DefaultLeads are the notice lead times before a destroy when none are
// configured: an hour and ten minutes before.
var DefaultLeads = []time.Duration{time.Hour, 10 * time.Minute}

// Config is what both backends read of notices: the serve flags
// --notice-* and the Lambda's PROVISIONER_NOTICE_* (the same names). The
// email sink is the backend's own: SMTP embedded, SES on AWS.
type Config struct {
	WebhookURL    string
	WebhookSecret string
	SlackURL      string
	EmailFrom     string
	EmailTo       []string
	// Leads are the lead times before a destroy (DefaultLeads unless
	// configured; none for "none").
	Leads []time.Duration
	// DashboardURL is the base of a cluster's link in its notices: ""
	// for the provisioner's own dashboard (at its issuer URL), "none" for
	// no link.
	DashboardURL string
	// Owners sends email notices about a cluster to its owner too, at the
	// address the owner publishes on GitHub (when there is one).
	Owners bool
}

// Contacts is what finds owners' addresses, when email notices go to
// owners: the identity provider, if it knows addresses (GitHub does; a
// static identity file does not).
func (c Config) Contacts(identity any) provisioner.Contacts {
	if !c.Owners || !c.Email() {
		return nil
	}
	contacts, _ := identity.(provisioner.Contacts)
	return contacts
}

// Dashboard is the base URL of the dashboard links in notices: the
// configured one, else the provisioner's own dashboard at issuer (its
// public URL), or none.
func (c Config) Dashboard(issuer string) string {
	switch c.DashboardURL {
	case "none":
		return ""
	case "":
		return strings.TrimRight(issuer, "/")
	}
	return strings.TrimRight(c.DashboardURL, "/")
}

// Email reports whether email notices are asked for.
func (c Config) Email() bool { return c.EmailFrom != "" || len(c.EmailTo) > 0 }

// HTTPSinks returns the webhook and Slack sinks c names, or EINVALID.
func (c Config) HTTPSinks() ([]provisioner.NoticeSink, error) {
	var out []provisioner.NoticeSink
	if c.WebhookURL != "" {
		s, err := webhook.New(webhook.Config{URL: c.WebhookURL, Secret: []byte(c.WebhookSecret)})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	} else if c.WebhookSecret != "" {
		return nil, provisioner.Errorf(provisioner.EINVALID, "a webhook secret without a webhook URL")
	}
	if c.SlackURL != "" {
		s, err := webhook.NewSlack(c.SlackURL, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if c.DashboardURL != "" && c.DashboardURL != "none" {
		u, err := url.Parse(c.DashboardURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, provisioner.Errorf(provisioner.EINVALID, "the dashboard URL must be http(s)://HOST[/PATH]")
		}
	}
	return out, nil
}
