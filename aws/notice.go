package aws

import (
	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
	"provisioner/aws/ses"
)

// noticeSinks builds the notice sinks c names: the signed webhook and the
// Slack-compatible one, and SES for email.
func (c Config) noticeSinks(sdk awssdk.Config) ([]provisioner.NoticeSink, error) {
	sinks, err := c.Notify.HTTPSinks()
	if err != nil {
		return nil, err
	}
	if c.Notify.Email() {
		s, err := ses.New(sdk, ses.Config{From: c.Notify.EmailFrom, To: c.Notify.EmailTo})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}
