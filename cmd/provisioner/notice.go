package main

import (
	"github.com/spf13/pflag"

	"provisioner"
	"provisioner/app"
	"provisioner/notify"
	"provisioner/notify/smtp"
)

// noticeFlags are serve's notice settings: those both backends share
// (notify.Config, named as the Lambda's PROVISIONER_NOTICE_* variables) and
// the SMTP server of the embedded email sink.
type noticeFlags struct {
	notify.Config
	Leads        string
	SMTP         string
	SMTPUser     string
	SMTPPassword string
	SMTPTLS      string
}

func (n *noticeFlags) add(f *pflag.FlagSet) {
	f.StringVar(&n.WebhookURL, "notice-webhook-url", "", "send notices (a destroy to come, failed DEPLOY, DESTROY and TEST) to this URL as signed JSON (README: Notices)")
	f.StringVar(&n.WebhookSecret, "notice-webhook-secret", "", "the webhook's HMAC secret, at least 16 bytes (env PROVISIONER_NOTICE_WEBHOOK_SECRET)")
	f.StringVar(&n.SlackURL, "notice-slack-url", "", "send notices to this Slack-compatible incoming webhook")
	f.StringVar(&n.EmailFrom, "notice-email-from", "", "sender address of email notices (with --notice-smtp)")
	f.StringSliceVar(&n.EmailTo, "notice-email-to", nil, "operator addresses that get email notices (with --notice-smtp)")
	f.StringVar(&n.SMTP, "notice-smtp", "", "SMTP server (HOST:PORT) that sends email notices")
	f.StringVar(&n.SMTPUser, "notice-smtp-user", "", "SMTP login (AUTH PLAIN, over TLS only)")
	f.StringVar(&n.SMTPPassword, "notice-smtp-password", "", "SMTP password (env PROVISIONER_NOTICE_SMTP_PASSWORD)")
	f.StringVar(&n.SMTPTLS, "notice-smtp-tls", smtp.TLSStartTLS, "SMTP security: starttls (required), tls (from the start) or none (a local relay)")
	f.StringVar(&n.Leads, "notice-leads", "60m,10m", "when notices go out before a scheduled destroy (whole minutes, at most 5, or none)")
	f.BoolVar(&n.Owners, "notice-owners", true, "email notices about a cluster to its owner too, at the address they publish on GitHub")
	f.StringVar(&n.DashboardURL, "dashboard-url", "", "base URL of the dashboard notices link to (URL/#/clusters/NAME): default the provisioner's own (--issuer); none for no link")
}

// config checks the notice flags and builds the sinks.
func (n *noticeFlags) config() (app.NoticeConfig, error) {
	leads, err := provisioner.ParseNoticeLeads(n.Leads)
	if err != nil {
		return app.NoticeConfig{}, usagef("--notice-leads: %s", provisioner.ErrorMessage(err))
	}
	sinks, err := n.HTTPSinks()
	if err != nil {
		return app.NoticeConfig{}, usagef("notices: %s", provisioner.ErrorMessage(err))
	}
	switch {
	case n.SMTP != "":
		s, err := smtp.New(smtp.Config{Addr: n.SMTP, Username: n.SMTPUser, Password: n.SMTPPassword, TLS: n.SMTPTLS,
			From: n.EmailFrom, To: n.EmailTo})
		if err != nil {
			return app.NoticeConfig{}, usagef("--notice-smtp: %s", provisioner.ErrorMessage(err))
		}
		sinks = append(sinks, s)
	case n.Email() || n.SMTPUser != "" || n.SMTPPassword != "":
		return app.NoticeConfig{}, usagef("email notices need --notice-smtp HOST:PORT")
	}
	return app.NoticeConfig{Sinks: sinks, Leads: leads}, nil
}
