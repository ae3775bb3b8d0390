package aws_test

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/aws"
)

var update = flag.Bool("update", false, "rewrite the variable table of deploy/README.md from aws.Env")

// required is every required variable set to something valid.
func required() map[string]string {
	env := map[string]string{}
	for _, e := range aws.Env {
		if e.Required {
			env[e.Name] = "x"
		}
	}
	return env
}

func TestFromEnv(t *testing.T) {
	env := required()
	env["PROVISIONER_KMS_KEY_IDS"] = " k1, k2 ,"
	env["PROVISIONER_JOB_SECURITY_GROUP_IDS"] = "sg-1,,sg-2"
	env["PROVISIONER_AUDIT_RETENTION"] = "forever"
	env["PROVISIONER_EVENT_RETENTION"] = "30d"
	env["PROVISIONER_SCHEDULE_MAX_RETRIES"] = "0"
	env["PROVISIONER_SIGNING_KEYS_GITHUB"] = "true"
	env["PROVISIONER_OAUTH_TRUSTED_HOSTS"] = "client.example.org Example.org,"
	env["PROVISIONER_BUDGETS"] = ` {"budgets": [{"scope": "org", "monthly": 100, "policy": "refuse"}]}`
	c, err := aws.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Budgets, `{"budgets"`) {
		t.Errorf("budgets: %q", c.Budgets)
	}
	if strings.Join(c.OAuthTrustedHosts, "|") != "client.example.org|example.org" {
		t.Errorf("trusted hosts: %q", c.OAuthTrustedHosts)
	}
	if strings.Join(c.KMSKeyIDs, "|") != "k1|k2" || strings.Join(c.JobSecurityGroupIDs, "|") != "sg-1|sg-2" {
		t.Errorf("lists: %q %q", c.KMSKeyIDs, c.JobSecurityGroupIDs)
	}
	if c.AuditRetention >= 0 || c.EventRetention != 30*24*time.Hour {
		t.Errorf("retention: audit %v (want forever, <0), events %v", c.AuditRetention, c.EventRetention)
	}
	if c.ScheduleMaxRetries != -1 || !c.SigningKeysGitHub || c.SignaturePolicy != provisioner.SignaturesOff {
		t.Errorf("retries %d, github keys %v, policy %q", c.ScheduleMaxRetries, c.SigningKeysGitHub, c.SignaturePolicy)
	}
}

// TestFromEnvRefuses names every missing variable and every bad value at
// once, so one failed cold start tells the operator everything.
func TestFromEnvRefuses(t *testing.T) {
	env := required()
	delete(env, "PROVISIONER_TABLE")
	delete(env, "PROVISIONER_ISSUER")
	for k, v := range map[string]string{
		"PROVISIONER_AUDIT_RETENTION":         "5m",
		"PROVISIONER_SCHEDULE_MAX_RETRIES":    "200",
		"PROVISIONER_SIGNATURE_POLICY":        "sometimes",
		"PROVISIONER_SIGNING_KEYS_GITHUB":     "yes please",
		"PROVISIONER_PUBLIC_CLUSTER":          "Bad_Name",
		"PROVISIONER_AFFILIATES":              "s3://",
		"PROVISIONER_ACTIONS_RULES":           "[",
		"PROVISIONER_OAUTH_THIRD_PARTY_HOSTS": "https://claude.ai/",
		"PROVISIONER_BUDGETS":                 `{"budgets": [{"scope": "org", "monthly": 100}]}`,
	} {
		env[k] = v
	}
	_, err := aws.FromEnv(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"PROVISIONER_TABLE", "PROVISIONER_ISSUER", "PROVISIONER_AUDIT_RETENTION", "PROVISIONER_SCHEDULE_MAX_RETRIES",
		"PROVISIONER_SIGNATURE_POLICY", "PROVISIONER_SIGNING_KEYS_GITHUB", "PROVISIONER_PUBLIC_CLUSTER", "PROVISIONER_AFFILIATES", "PROVISIONER_ACTIONS_RULES", "PROVISIONER_OAUTH_THIRD_PARTY_HOSTS", "PROVISIONER_BUDGETS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

// envTable is the table of deploy/README.md, made from aws.Env.
func envTable() string {
	var b strings.Builder
	b.WriteString("| variable | required | meaning |\n|---|---|---|\n")
	for _, e := range aws.Env {
		req := ""
		if e.Required {
			req = "yes"
		}
		b.WriteString("| `" + e.Name + "` | " + req + " | " + strings.ReplaceAll(e.Doc, "|", `\|`) + " |\n")
	}
	return b.String()
}

var tableRE = regexp.MustCompile(`(?s)(<!-- aws\.Env table[^\n]*-->\n).*?(<!-- end -->)`)

// TestEnvDoc keeps deploy/README.md's variable table the same as aws.Env
// (go test ./aws -run TestEnvDoc -update rewrites it).
func TestEnvDoc(t *testing.T) {
	const path = "../deploy/README.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := tableRE.FindSubmatchIndex(doc)
	if m == nil {
		t.Fatalf("%s has no <!-- aws.Env table --> ... <!-- end --> section", path)
	}
	got := string(doc[m[3]:m[4]])
	if want := envTable(); got != want {
		if *update {
			doc = append(doc[:m[3]:m[3]], append([]byte(want), doc[m[4]:]...)...)
			if err := os.WriteFile(path, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s's variable table is not aws.Env's; run go test ./aws -run TestEnvDoc -update", path)
	}
}

// TestTemplateSetsKnownVariables: every PROVISIONER_ variable the stack
// sets on the function is one the function reads.
func TestTemplateSetsKnownVariables(t *testing.T) {
	tpl, err := os.ReadFile("../deploy/provisioner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, e := range aws.Env {
		known[e.Name] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(PROVISIONER_[A-Z0-9_]+):`).FindAllStringSubmatch(string(tpl), -1) {
		if !known[m[1]] {
			t.Errorf("deploy/provisioner.yaml sets %s, which the function does not read", m[1])
		}
	}
}
