package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner/client"
	"provisioner/signature"
	"provisioner/testkit"
)

// TestAWSSignedRequests: the Lambda under PROVISIONER_SIGNATURE_POLICY=
// everyone with the keys in an object of the log bucket refuses unsigned
// state-changing calls, accepts signed ones, and a signature accepted by
// one Lambda instance is refused by another (the replay record is in the
// table). Bad configurations fail at wiring.
func TestAWSSignedRequests(t *testing.T) {
	b := newAWSBackendWith(t, map[string]string{
		"PROVISIONER_SIGNATURE_POLICY": "everyone", "PROVISIONER_SIGNING_KEYS_OBJECT": "config/signing-keys"})
	priv, pub := testkit.SSHKey(t)
	s, err := client.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sdk.NewFromConfig(b.cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutObject(context.Background(),
		&s3sdk.PutObjectInput{Bucket: aws.String(b.bucket), Key: aws.String("config/signing-keys"),
			Body: strings.NewReader("ada " + pub + " ada@laptop\n")}); err != nil {
		t.Fatal(err)
	}
	status, body := b.api("POST", "/auth/github/pat", `{"pat":"tok-admin"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	b.token = body["token"].(string)
	host := "provisioner." + b.domain
	signed := func(path, body string) map[string]string {
		ts, sig := s.Headers(host+path, time.Now().Unix(), []byte(body))
		return map[string]string{"host": host, signature.HeaderTimestamp: ts, signature.HeaderSignature: sig}
	}
	second, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}

	deploy := `{"cluster":"sig1","is_public":false,"node_capacity":1,"ttl":60,"version":"v4.5.1"}`
	if status, body := b.apiTo(b.h, "POST", "/deploy", deploy, map[string]string{"host": host}); status != 401 || body["error"] != "signature_required" {
		t.Fatalf("unsigned deploy: %d %v", status, body)
	}
	h := signed("/deploy", deploy)
	status, body = b.apiTo(b.h, "POST", "/deploy", deploy, h)
	b.wait(status, body)
	// The same signature at another instance: a replay.
	if status, body := b.apiTo(second, "POST", "/deploy", deploy, h); status != 401 || body["error"] != "invalid_signature" ||
		!strings.Contains(body["error_description"].(string), "already used") {
		t.Errorf("replay at a second instance: %d %v", status, body)
	}
	// Another host than the one signed for.
	h = signed("/extend", `{"cluster":"sig1","ttl":90}`)
	h["host"] = "evil.example.org"
	if status, body := b.apiTo(second, "POST", "/extend", `{"cluster":"sig1","ttl":90}`, h); status != 401 || body["error"] != "invalid_signature" {
		t.Errorf("a signature for another host: %d %v", status, body)
	}
	// Reading calls stay token-only.
	if status, body := b.apiTo(second, "POST", "/status", `{"cluster":"sig1"}`, map[string]string{"host": host}); status != 200 {
		t.Errorf("unsigned status: %d %v", status, body)
	}
	destroy := `{"cluster":"sig1"}`
	status, body = b.apiTo(second, "POST", "/destroy", destroy, signed("/destroy", destroy))
	b.wait(status, body)

	// Wiring refuses what cannot work.
	for what, env := range map[string]map[string]string{
		"unknown policy":    {"PROVISIONER_SIGNATURE_POLICY": "sometimes"},
		"a policy, no keys": {"PROVISIONER_SIGNING_KEYS_OBJECT": ""},
		"bad inline keys":   {"PROVISIONER_SIGNING_KEYS": "ada ssh-rsa AAAA"},
		"bad github switch": {"PROVISIONER_SIGNING_KEYS_GITHUB": "maybe"},
	} {
		saved := map[string]string{}
		for k, v := range env {
			saved[k] = b.env[k]
			b.env[k] = v
		}
		if _, err := b.handler(); err == nil {
			t.Errorf("%s: wired without error", what)
		}
		for k, v := range saved {
			b.env[k] = v
		}
	}
	// Inline keys, production's JSON form, work alone.
	b.env["PROVISIONER_SIGNING_KEYS_OBJECT"] = ""
	b.env["PROVISIONER_SIGNING_KEYS"] = `{"ada": "` + pub + `"}`
	inline, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}
	ext := `{"cluster":"sig2","ttl":30}`
	if status, body := b.apiTo(inline, "POST", "/extend", ext, signed("/extend", ext)); status == 401 {
		t.Errorf("signed with an inline key: %d %v", status, body)
	}
}
