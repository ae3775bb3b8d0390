// Package smtp delivers notices as plain-text email through an SMTP
// server (net/smtp): the embedded provisioner's email sink (on AWS, SES
// sends them: package aws/ses).
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"provisioner"
	"provisioner/notify"
)

// The ways to secure the connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: a relay on this machine or network only; no password is sent
)

// Config configures New.
type Config struct {
	Addr string // HOST:PORT of the server
	// Username and Password, when set, log in with AUTH PLAIN, over TLS
	// only.
	Username, Password string
	From               string   // the sender address
	To                 []string // the operator's addresses; a notice may add its owner's
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// TLSConfig overrides the TLS settings (tests: a private CA); its
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Hello is the name given in EHLO (default "localhost").
	Hello string
}

// Sink sends notices by SMTP.
type Sink struct {
	c    Config
	host string
	from string
	to   []string
}

// New checks c and returns a Sink; it connects to nothing.
func New(c Config) (*Sink, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return nil, provisioner.Errorf(provisioner.EINVALID, "the SMTP server must be HOST:PORT, not %q", c.Addr)
	}
	switch c.TLS {
	case "":
		c.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, provisioner.Errorf(provisioner.EINVALID, "SMTP TLS must be %s, %s or %s, not %q", TLSStartTLS, TLSImplicit, TLSNone, c.TLS)
	}
	if c.TLS == TLSNone && c.Username != "" {
		return nil, provisioner.Errorf(provisioner.EINVALID, "an SMTP login needs TLS: it is never sent in clear")
	}
	if c.Hello == "" {
		c.Hello = "localhost"
	}
	from, to, err := notify.Envelope(c.From, c.To)
	if err != nil {
		return nil, err
	}
	return &Sink{c: c, host: host, from: from, to: to}, nil
}

// Name is "smtp".
func (s *Sink) Name() string { return "smtp" }

// Send mails n once to the sink's addresses and n.To.
func (s *Sink) Send(ctx context.Context, n provisioner.Notice) error {
	rcpt := notify.Recipients(s.to, n)
	msg, err := Message(s.from, rcpt, n)
	if err != nil {
		return err
	}
	if err := s.send(ctx, rcpt, msg); err != nil {
		return classify(ctx, err)
	}
	return nil
}

func (s *Sink) send(ctx context.Context, rcpt []string, msg []byte) error {
	tcfg := &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if s.c.TLSConfig != nil {
		tcfg = s.c.TLSConfig.Clone()
		if tcfg.ServerName == "" {
			tcfg.ServerName = s.host
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.c.Addr)
	if err != nil {
		return err
	}
	// net/smtp knows no contexts: the deadline and a cancel end the
	// connection instead.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.c.TLS == TLSImplicit {
		conn = tls.Client(conn, tcfg)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(s.c.Hello); err != nil {
		return err
	}
	if s.c.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return provisioner.Errorf(provisioner.EUNAVAILABLE, "the SMTP server does not offer STARTTLS")
		}
		if err := c.StartTLS(tcfg); err != nil {
			return err
		}
	}
	if s.c.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.c.Username, s.c.Password, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from); err != nil {
		return err
	}
	for _, r := range rcpt {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// classify turns an SMTP failure into the domain's errors: a 5xx reply
// is final, a 4xx reply or a lost connection worth a retry. The message
// keeps the server's reply, which names no secret.
func classify(ctx context.Context, err error) error {
	if _, ok := errors.AsType[*provisioner.Error](err); ok {
		return err
	}
	if te, ok := errors.AsType[*textproto.Error](err); ok {
		msg := fmt.Sprintf("the SMTP server answered %d %s", te.Code, firstLine(te.Msg))
		switch {
		case te.Code == 535 || te.Code == 534 || te.Code == 530:
			return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "%s", msg)
		case te.Code >= 500:
			return provisioner.Wrap(provisioner.EINVALID, err, "%s", msg)
		}
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s", msg)
	}
	if ctx.Err() != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the SMTP server did not answer in time")
	}
	return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the SMTP server could not be reached or dropped the connection")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Message is n as an RFC 5322 message from from to to: the subject, and
// the text in quoted-printable UTF-8. Message-ID is made of the notice's
// ID, so a mail client shows a repeat as the same message.
func Message(from string, to []string, n provisioner.Notice) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) {
		b.WriteString(k + ": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(v) + "\r\n")
	}
	date := n.Time
	if date.IsZero() {
		date = time.Now()
	}
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", n.Subject))
	h("Date", date.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+n.ID+"@sliderule-provisioner>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("X-Provisioner-Event", string(n.Kind))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(n.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the notice")
	}
	if err := qp.Close(); err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the notice")
	}
	return b.Bytes(), nil
}
