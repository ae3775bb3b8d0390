package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/crypto/ssh"

	"provisioner"
	"provisioner/aws/dynamodb"
	"provisioner/github"
	"provisioner/signature"
)

// lambdaSignatures builds the Lambda's request signature check:
//
//   - PROVISIONER_SIGNATURE_POLICY: off (default), owners or everyone, as
//     serve's --signature-policy;
//   - PROVISIONER_SIGNING_KEYS: the keys themselves, "login ssh-ed25519
//     AAAA..." lines or production's pubkeys JSON (login -> key);
//   - PROVISIONER_SIGNING_KEYS_OBJECT: the key of an object in the log
//     bucket holding the same, read again at most once a minute;
//   - PROVISIONER_SIGNING_KEYS_GITHUB: true to accept the ed25519 keys users
//     publish on GitHub, as serve's --signing-keys-github.
//
// Accepted signatures are claimed in the table (a conditional put with a
// TTL), so that of several Lambda instances only one accepts a signature.
// It makes no network call: keys are read on the first signed request.
func lambdaSignatures(cfg aws.Config, getenv func(string) string, store *dynamodb.Store, bucket string, pathStyle bool) (*signature.Verifier, error) {
	policy, err := provisioner.ParseSignaturePolicy(getenv("PROVISIONER_SIGNATURE_POLICY"))
	if err != nil {
		return nil, fmt.Errorf("PROVISIONER_SIGNATURE_POLICY: %s", provisioner.ErrorMessage(err))
	}
	var keys signature.Multi
	if v := getenv("PROVISIONER_SIGNING_KEYS"); strings.TrimSpace(v) != "" {
		k, err := signature.ParseKeys([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("PROVISIONER_SIGNING_KEYS: %v", err)
		}
		keys = append(keys, staticKeys(k))
	}
	if obj := getenv("PROVISIONER_SIGNING_KEYS_OBJECT"); obj != "" {
		client := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = pathStyle })
		keys = append(keys, &fetchedKeys{what: "s3://" + bucket + "/" + obj, fetch: func(ctx context.Context) ([]byte, error) {
			out, err := client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj)})
			if err != nil {
				return nil, err
			}
			defer out.Body.Close()
			return io.ReadAll(io.LimitReader(out.Body, 1<<20))
		}})
	}
	if v := getenv("PROVISIONER_SIGNING_KEYS_GITHUB"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("PROVISIONER_SIGNING_KEYS_GITHUB: %q is not true or false", v)
		}
		if on {
			api := getenv("PROVISIONER_GITHUB_API_URL")
			if api == "" {
				api = github.DefaultAPIURL
			}
			keys = append(keys, &signature.GitHubKeys{APIURL: api})
		}
	}
	if policy != provisioner.SignaturesOff && len(keys) == 0 {
		return nil, fmt.Errorf("PROVISIONER_SIGNATURE_POLICY=%s needs PROVISIONER_SIGNING_KEYS, PROVISIONER_SIGNING_KEYS_OBJECT or PROVISIONER_SIGNING_KEYS_GITHUB=true", policy)
	}
	return &signature.Verifier{Policy: policy, Keys: keys, Replays: signature.ReplaysFunc(store.ClaimSignature)}, nil
}

// staticKeys are keys given once (an environment variable).
type staticKeys map[string][]ssh.PublicKey

func (k staticKeys) SigningKeys(_ context.Context, login string) ([]ssh.PublicKey, error) {
	return k[strings.ToLower(login)], nil
}

// fetchedKeys are keys read with fetch (an S3 object), kept for a minute.
// When a read fails, the keys read before stay in use, and the read is
// tried again after a few seconds.
type fetchedKeys struct {
	what  string
	fetch func(context.Context) ([]byte, error)

	mu   sync.Mutex
	next time.Time // when to read again
	keys map[string][]ssh.PublicKey
	err  error
}

const (
	fetchedKeysTTL   = time.Minute
	fetchedKeysRetry = 5 * time.Second
)

func (f *fetchedKeys) SigningKeys(ctx context.Context, login string) ([]ssh.PublicKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); !now.Before(f.next) {
		data, err := f.fetch(ctx)
		var keys map[string][]ssh.PublicKey
		if err == nil {
			keys, err = signature.ParseKeys(data)
		}
		if err == nil {
			f.keys, f.err, f.next = keys, nil, now.Add(fetchedKeysTTL)
		} else {
			f.err, f.next = err, now.Add(fetchedKeysRetry)
		}
	}
	if f.keys == nil && f.err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, f.err, "the signing keys (%s) cannot be read", f.what)
	}
	return f.keys[strings.ToLower(login)], nil
}
