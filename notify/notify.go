// Package notify holds what the notice sinks share: the checks of email
// addresses and who an email notice goes to. The sinks themselves are
// one package per dependency: notify/webhook (signed JSON and
// Slack-compatible webhooks, net/http), notify/smtp (net/smtp) and aws/ses
// (Amazon SES); the app claims, retries and records notices
// (app/notice.go).
package notify

import (
	"net/mail"
	"strings"

	"provisioner"
)

// Address checks one bare email address ("ops@example.org").
func Address(a string) (string, error) {
	m, err := mail.ParseAddress(a)
	if err != nil || m.Name != "" || m.Address != a || strings.ContainsAny(a, "\r\n<>") {
		return "", provisioner.Errorf(provisioner.EINVALID, "%q is not an email address such as ops@example.org", a)
	}
	return a, nil
}

// Envelope checks an email sink's sender and its own recipients.
func Envelope(from string, to []string) (string, []string, error) {
	f, err := Address(from)
	if err != nil {
		return "", nil, err
	}
	t, err := Addresses(to)
	if err != nil {
		return "", nil, err
	}
	return f, t, nil
}

// Addresses checks a sink's own list of addresses: at least one, each
// bare.
func Addresses(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "name at least one address to send notices to")
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if _, err := Address(a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Recipients are a sink's addresses and the valid ones of n.To (the
// cluster owner's), each once.
func Recipients(to []string, n provisioner.Notice) []string {
	out := append([]string(nil), to...)
	for _, a := range n.To {
		if _, err := Address(a); err == nil && !containsFold(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
