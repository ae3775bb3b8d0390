// Package awsenv builds the AWS SDK configuration every AWS adapter shares:
// region and credentials from the standard chain, an optional endpoint
// override (the emulator in tests), and a call counter for measuring how
// many AWS API calls an operation costs.
package awsenv

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
)

// Options adjust Load.
type Options struct {
	Region   string // empty: from the environment
	Endpoint string // empty: AWS itself; else every service at this URL (an emulator)
	// StaticCredentials, when set, replaces the credential chain (tests).
	StaticCredentials *aws.Credentials
}

// Load returns an aws.Config. It makes no network call: credentials are
// resolved lazily by the SDK, so a Lambda cold start stays cheap.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	if c := o.StaticCredentials; c != nil {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// Counter counts AWS API calls by "Service.Operation".
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Count installs a Counter on cfg: every client made from cfg afterwards
// reports its calls to it.
func Count(cfg *aws.Config) *Counter {
	c := &Counter{counts: map[string]int{}}
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.add(middleware.GetServiceID(ctx) + "." + middleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return c
}

func (c *Counter) add(k string) {
	c.mu.Lock()
	c.counts[k]++
	c.mu.Unlock()
}

// Reset forgets the counts so far.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.counts = map[string]int{}
	c.mu.Unlock()
}

// Total is the number of calls counted.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Calls returns the counts, sorted by name, as "Service.Operation=N".
func (c *Counter) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.counts))
	for k, v := range c.counts {
		out = append(out, k+"="+itoa(v))
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
