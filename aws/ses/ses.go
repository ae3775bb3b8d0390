// Package ses delivers notices as plain-text email through Amazon SES
// (the v2 API's SendEmail): the AWS provisioner's email sink, as
// production's provisioner mails its operators through SES.
package ses

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/notify"
)

// Config configures a Sink.
type Config struct {
	From string   // a verified SES identity (address or domain)
	To   []string // the operator's addresses; a notice may add its owner's
}

// Sink sends notices with SES.
type Sink struct {
	c    *sesv2.Client
	from string
	to   []string
}

// New returns a Sink using an SES client made from cfg; it makes no call.
func New(cfg aws.Config, c Config, optFns ...func(*sesv2.Options)) (*Sink, error) {
	return NewFromClient(sesv2.NewFromConfig(cfg, optFns...), c)
}

// NewFromClient returns a Sink using client, or EINVALID for bad
// addresses.
func NewFromClient(client *sesv2.Client, c Config) (*Sink, error) {
	if client == nil {
		return nil, errors.New("ses: nil client")
	}
	from, err := notify.Address(c.From)
	if err != nil {
		return nil, err
	}
	to, err := notify.Addresses(c.To)
	if err != nil {
		return nil, err
	}
	return &Sink{c: client, from: from, to: to}, nil
}

// Name is "ses".
func (s *Sink) Name() string { return "ses" }

// Send mails n once to the sink's addresses and n.To.
func (s *Sink) Send(ctx context.Context, n provisioner.Notice) error {
	utf8 := aws.String("UTF-8")
	_, err := s.c.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: notify.Recipients(s.to, n)},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(strings.NewReplacer("\r", " ", "\n", " ").Replace(n.Subject)), Charset: utf8},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(n.Text), Charset: utf8}},
		}},
	})
	if err == nil {
		return nil
	}
	if awsenv.Transient(ctx, err) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "SES did not take the notice now (%s)", orNetwork(awsenv.APICode(err)))
	}
	// Refused: an unverified sender, a paused account, a bad address. A
	// retry would get the same answer.
	return provisioner.Wrap(provisioner.EINVALID, err, "SES refused the notice (%s)", orNetwork(awsenv.APICode(err)))
}

func orNetwork(code string) string {
	if code == "" {
		return "no answer"
	}
	return code
}
