// Package awstest connects tests to the AWS emulator (moto server) that the
// test command starts: PROVISIONER_TEST_AWS_ENDPOINT names it. Without it a
// test is skipped, except under CI=true, where a missing emulator fails.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner/aws/awsenv"
)

// EnvEndpoint names the emulator's URL.
const EnvEndpoint = "PROVISIONER_TEST_AWS_ENDPOINT"

// Region is the region tests use; the emulator keeps state per region.
const Region = "us-west-2"

// Endpoint returns the emulator URL, skipping (or under CI failing) the
// test when there is none.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: the AWS emulator is required under CI (run the README test command)", EnvEndpoint)
		}
		t.Skipf("%s is not set: run the README test command to start the AWS emulator", EnvEndpoint)
	}
	return ep
}

// Config returns an aws.Config for the emulator with static credentials.
func Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := awsenv.Load(context.Background(), awsenv.Options{Region: Region, Endpoint: Endpoint(t),
		StaticCredentials: &aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Name returns a name unique to this run: the emulator is shared by every
// test package at once and is never reset, so names must not collide.
func Name(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
