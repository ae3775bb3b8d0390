package cloudformation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"provisioner"
)

// TestStackState covers every stack status the SDK knows: each maps to a
// state, and Deploy's live/deletable split never claims one status twice.
func TestStackState(t *testing.T) {
	want := map[types.StackStatus]provisioner.ClusterState{
		types.StackStatusCreateInProgress:                        provisioner.StateDeploying,
		types.StackStatusCreateComplete:                          stateCreated,
		types.StackStatusCreateFailed:                            provisioner.StateFailed,
		types.StackStatusRollbackInProgress:                      provisioner.StateFailed,
		types.StackStatusRollbackComplete:                        provisioner.StateFailed,
		types.StackStatusRollbackFailed:                          provisioner.StateFailed,
		types.StackStatusDeleteInProgress:                        provisioner.StateDestroying,
		types.StackStatusDeleteComplete:                          provisioner.StateAbsent,
		types.StackStatusDeleteFailed:                            provisioner.StateFailed,
		types.StackStatusUpdateInProgress:                        provisioner.StateDeploying,
		types.StackStatusUpdateCompleteCleanupInProgress:         provisioner.StateDeploying,
		types.StackStatusUpdateComplete:                          stateCreated,
		types.StackStatusUpdateFailed:                            provisioner.StateFailed,
		types.StackStatusUpdateRollbackInProgress:                provisioner.StateDeploying,
		types.StackStatusUpdateRollbackFailed:                    provisioner.StateFailed,
		types.StackStatusUpdateRollbackCompleteCleanupInProgress: provisioner.StateDeploying,
		types.StackStatusUpdateRollbackComplete:                  stateCreated,
		types.StackStatusReviewInProgress:                        provisioner.StateFailed,
		types.StackStatusImportInProgress:                        provisioner.StateDeploying,
		types.StackStatusImportComplete:                          stateCreated,
		types.StackStatusImportRollbackInProgress:                provisioner.StateFailed,
		types.StackStatusImportRollbackFailed:                    provisioner.StateFailed,
		types.StackStatusImportRollbackComplete:                  provisioner.StateFailed,
		"SOME_FUTURE_STATUS":                                     provisioner.StateFailed,
	}
	for _, s := range types.StackStatus("").Values() {
		if _, ok := want[s]; !ok {
			t.Errorf("status %s not covered by this test", s)
		}
	}
	for s, w := range want {
		st := &types.Stack{StackStatus: s, StackStatusReason: aws.String("The following resource(s) failed to create: [NodeGroup].")}
		got, reason := stackState(st)
		if got != w {
			t.Errorf("%s: %s, want %s", s, got, w)
		}
		if got == provisioner.StateFailed && !strings.Contains(reason, string(s)+": The following resource(s) failed") {
			t.Errorf("%s: reason %q", s, reason)
		}
		if live(s) && deletable(s) {
			t.Errorf("%s is both live and deletable", s)
		}
		if live(s) && got != stateCreated && got != provisioner.StateDeploying {
			t.Errorf("%s is live for Deploy but %s for Status", s, got)
		}
	}
}

// TestPatternsMatchTemplate: the driver checks exactly the template's
// patterns for the values it sets.
func TestPatternsMatchTemplate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for param, re := range map[string]*regexp.Regexp{"Version": versionRE, "CreatedBy": createdByRE, "Domain": domainRE} {
		m := regexp.MustCompile(`(?m)^  ` + param + `:\n(?:    .*\n)*?    AllowedPattern: (.*)\n`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no AllowedPattern for %s in the template", param)
		}
		tpl := string(m[1])
		if param == "CreatedBy" {
			tpl = strings.Replace(tpl, "]*$", "]{0,99}$", 1) // the template bounds it with MaxLength
		}
		if tpl != re.String() {
			t.Errorf("%s: template pattern %s, driver %s", param, tpl, re)
		}
	}
}

var tokenRE = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9]{0,127}$`) // CloudFormation's ClientRequestToken

func TestTokens(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	spec := provisioner.ClusterSpec{Name: strings.Repeat("a", 40), NodeCapacity: 3, Version: "v4.5.1", CreatedBy: "alice", ExpiresAt: exp}
	stack := strings.Repeat("p", 80) + "-" + spec.Name
	a := DeployToken(stack, spec, "")
	if a != DeployToken(stack, spec, "") || !tokenRE.MatchString(a) {
		t.Fatalf("deploy token %q not stable or not valid", a)
	}
	seen := map[string]string{a: "base"}
	for what, change := range map[string]func(*provisioner.ClusterSpec){
		"expiry":   func(s *provisioner.ClusterSpec) { s.ExpiresAt = s.ExpiresAt.Add(time.Second) },
		"nodes":    func(s *provisioner.ClusterSpec) { s.NodeCapacity++ },
		"public":   func(s *provisioner.ClusterSpec) { s.IsPublic = true },
		"version":  func(s *provisioner.ClusterSpec) { s.Version = "v4.5.2" },
		"creator":  func(s *provisioner.ClusterSpec) { s.CreatedBy = "bob" },
		"replaces": func(*provisioner.ClusterSpec) {},
	} {
		s := spec
		change(&s)
		replaces := ""
		if what == "replaces" {
			replaces = "arn:aws:cloudformation:us-west-2:123456789012:stack/x/1"
		}
		tok := DeployToken(stack, s, replaces)
		if other, dup := seen[tok]; dup {
			t.Errorf("%s: same token as %s", what, other)
		}
		seen[tok] = what
	}
	d1, d2 := destroyToken(spec.Name, "id-1", 0, false), destroyToken(spec.Name, "id-1", 1, false)
	if d1 == d2 || d1 != destroyToken(spec.Name, "id-1", 0, false) || d1 == destroyToken(spec.Name, "id-2", 0, false) ||
		d2 == destroyToken(spec.Name, "id-1", 1, true) || !tokenRE.MatchString(d1) {
		t.Fatalf("destroy tokens %s %s", d1, d2)
	}
}

// nopAPI satisfies API for New's checks; it is never called.
type nopAPI struct{ API }

func TestNewChecksConfig(t *testing.T) {
	ok := Config{Client: nopAPI{}, StackPrefix: "sliderule", TemplateBody: "x", HealthProbe: &HTTPProbe{},
		Parameters: map[string]string{"Domain": "testsliderule.org", "HostedZoneId": "Z1"}, Tags: map[string]string{"project": "sliderule"}}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Config){
		"no client":        func(c *Config) { c.Client = nil },
		"no prefix":        func(c *Config) { c.StackPrefix = "" },
		"prefix hyphen":    func(c *Config) { c.StackPrefix = "sliderule-" },
		"prefix digit":     func(c *Config) { c.StackPrefix = "1sliderule" },
		"prefix char":      func(c *Config) { c.StackPrefix = "slide_rule" },
		"two templates":    func(c *Config) { c.TemplateURL = "https://s3.amazonaws.com/b/cluster.yaml" },
		"no template":      func(c *Config) { c.TemplateBody = "" },
		"no probe":         func(c *Config) { c.HealthProbe = nil },
		"no domain":        func(c *Config) { delete(c.Parameters, "Domain") },
		"bad domain":       func(c *Config) { c.Parameters["Domain"] = "Example.org/x" },
		"cluster param":    func(c *Config) { c.Parameters["ClusterName"] = "x" },
		"version param":    func(c *Config) { c.Parameters["Version"] = "x" },
		"capacity param":   func(c *Config) { c.Parameters["NodeCapacity"] = "1" },
		"driver tag":       func(c *Config) { c.Tags["cluster"] = "x" },
		"owner tag":        func(c *Config) { c.Tags["owner"] = "x" },
		"kind tag":         func(c *Config) { c.Tags["kind"] = "x" },
		"team tag":         func(c *Config) { c.Tags["team"] = "x" },
		"aws tag":          func(c *Config) { c.Tags["aws:foo"] = "x" },
		"bad tag":          func(c *Config) { c.Tags["a"] = "x\ny" },
		"negative timeout": func(c *Config) { c.CreateTimeout = -time.Minute },
	}
	for what, change := range bad {
		c := ok
		c.Parameters = clone(ok.Parameters)
		c.Tags = clone(ok.Tags)
		change(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	// New copies the maps: later changes by the caller do not leak in.
	c := ok
	c.Parameters = clone(ok.Parameters)
	d, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Parameters["ClusterName"] = "evil"
	for _, p := range d.parameters(provisioner.ClusterSpec{Name: "good", NodeCapacity: 1, Version: "latest"}) {
		if aws.ToString(p.ParameterKey) == "ClusterName" && aws.ToString(p.ParameterValue) != "good" {
			t.Fatal("a caller's later change reached the parameters")
		}
	}
	// The cost allocation tags: a cluster's owner, kind and team (none
	// without one); a team that is no tag value is refused.
	tg := map[string]string{}
	for _, tag := range d.tags(provisioner.ClusterSpec{Name: "good", CreatedBy: "ann", Team: "science"}) {
		tg[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if tg["owner"] != "ann" || tg["kind"] != "cluster" || tg["team"] != "science" || tg["project"] != "sliderule" {
		t.Errorf("tags = %v", tg)
	}
	for _, tag := range d.tags(provisioner.ClusterSpec{Name: "good"}) {
		if k := aws.ToString(tag.Key); k == "team" || (k == "owner" && aws.ToString(tag.Value) != "provisioner") {
			t.Errorf("tag %s = %s", k, aws.ToString(tag.Value))
		}
	}
	if err := d.Deploy(context.Background(), provisioner.ClusterSpec{Name: "good", NodeCapacity: 1, Version: "latest", CreatedBy: "ann",
		ExpiresAt: time.Now().Add(time.Hour), Team: "$(id)"}); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("a team that is no tag value: %v", err)
	}
	if d.Endpoint("foo") != "https://foo.testsliderule.org" || d.StackName("foo") != "sliderule-foo" {
		t.Fatalf("Endpoint %s StackName %s", d.Endpoint("foo"), d.StackName("foo"))
	}
}

func TestHTTPProbe(t *testing.T) {
	type call struct{ method, path, ctype, auth, body string }
	calls := make(chan call, 10)
	answer := `{"nodes":3}`
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- call{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()

	p := &HTTPProbe{Token: func(_ context.Context, cluster string) (string, error) { return "tok-for-" + cluster, nil }}
	n, err := p.Check(context.Background(), "foo", srv.URL)
	if err != nil || n != 3 {
		t.Fatalf("Check = %d, %v", n, err)
	}
	c := <-calls
	var body map[string]string
	if err := json.Unmarshal([]byte(c.body), &body); err != nil || body["service"] != "foo" || len(body) != 1 {
		t.Errorf("body %q", c.body)
	}
	if c.method != http.MethodPost || c.path != "/discovery/status" || c.ctype != "application/json" || c.auth != "Bearer tok-for-foo" {
		t.Errorf("request %+v", c)
	}

	// The ilb's own answer (orchestrator.lua's format) to a probe without
	// a token, as the Lambda sends it.
	answer = `{"nodes": 2}`
	if n, err := (&HTTPProbe{}).Check(context.Background(), "foo", srv.URL); err != nil || n != 2 {
		t.Fatalf("anonymous Check = %d, %v", n, err)
	}
	if c := <-calls; c.auth != "" || c.path != "/discovery/status" || c.body != `{"service":"foo"}` {
		t.Errorf("anonymous request %+v", c)
	}

	for _, bad := range []struct {
		status int
		answer string
	}{
		{http.StatusUnauthorized, `{"status":"failure"}`},
		{http.StatusFound, ``},
		{http.StatusOK, `{"nodes":-1}`},
		{http.StatusOK, `{}`},
		{http.StatusOK, `not json`},
		{http.StatusOK, `{"nodes":` + strings.Repeat(" ", maxProbeBody) + `1}`},
	} {
		status, answer = bad.status, bad.answer
		if n, err := (&HTTPProbe{}).Check(context.Background(), "foo", srv.URL); err == nil {
			t.Errorf("%d %.20q: Check = %d, want an error", bad.status, bad.answer, n)
		}
		<-calls
	}
	if _, err := (&HTTPProbe{}).Check(context.Background(), "foo", "ftp://x"); err == nil {
		t.Error("a non-http endpoint was probed")
	}
	noToken := &HTTPProbe{Token: func(context.Context, string) (string, error) { return "", errors.New("no key") }}
	if _, err := noToken.Check(context.Background(), "foo", srv.URL); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("token failure: %v", err)
	}
	// A probe that does not answer in time is an error, not a hang.
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer slow.Close()
	defer close(stop) // before Close, which waits for the handler
	start := time.Now()
	if _, err := (&HTTPProbe{Timeout: 100 * time.Millisecond}).Check(context.Background(), "foo", slow.URL); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("slow probe: %v after %s", err, time.Since(start))
	}
}

// TestErrors: the driver's reading of CloudFormation's error answers.
func TestErrors(t *testing.T) {
	notFound := &apiErr{code: "ValidationError", msg: "Stack with id x does not exist"}
	if !isNotFound(notFound) || isNotFound(&apiErr{code: "ValidationError", msg: "Template format error"}) {
		t.Error("isNotFound")
	}
	if !isAlreadyExists(&types.AlreadyExistsException{}) || !isAlreadyExists(&apiErr{code: "AlreadyExistsException"}) || isAlreadyExists(notFound) {
		t.Error("isAlreadyExists")
	}
	ctx := context.Background()
	if c := provisioner.ErrorCode(cfnError(ctx, &apiErr{code: "Throttling"}, "m", "w")); c != provisioner.EUNAVAILABLE {
		t.Errorf("throttling: %s", c)
	}
	err := cfnError(ctx, &apiErr{code: "ValidationError", msg: "Parameter X failed to satisfy constraint"}, "CloudFormation did not create the stack", "CreateStack s")
	if provisioner.ErrorCode(err) != provisioner.EINTERNAL || provisioner.ErrorMessage(err) != "CloudFormation did not create the stack" ||
		!strings.Contains(err.Error(), "failed to satisfy") {
		t.Errorf("validation: %v", err)
	}
}

type apiErr struct{ code, msg string }

func (e *apiErr) Error() string                 { return e.code + ": " + e.msg }
func (e *apiErr) ErrorCode() string             { return e.code }
func (e *apiErr) ErrorMessage() string          { return e.msg }
func (e *apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }
