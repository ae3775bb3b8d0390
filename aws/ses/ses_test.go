package ses

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"provisioner"
	"provisioner/aws/awstest"
)

// emulator sends one request to the emulator's SES as a client would
// (the emulator does not check signatures).
func emulator(t *testing.T, method, path, contentType, body string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, awstest.Endpoint(t)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/"+awstest.Region+"/ses/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, out)
	}
	return out
}

// sentLast24Hours asks the emulator's SES (the v1 query API) how many
// recipients it has sent to.
func sentLast24Hours(t *testing.T) int {
	t.Helper()
	out := emulator(t, http.MethodPost, "/", "application/x-www-form-urlencoded",
		url.Values{"Action": {"GetSendQuota"}, "Version": {"2010-12-01"}}.Encode())
	var q struct {
		Sent string `xml:"GetSendQuotaResult>SentLast24Hours"`
	}
	if err := xml.Unmarshal(out, &q); err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(q.Sent, 64)
	if err != nil {
		t.Fatalf("SentLast24Hours %q", q.Sent)
	}
	return int(f)
}

// TestSendAgainstEmulator: the signed SendEmail as the emulator's SES v2
// API takes it: an unverified sender refused for good, a verified one's
// mail sent to the operator and the owner.
func TestSendAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	from := awstest.Name("provisioner") + "@example.org"
	s, err := New(cfg, Config{From: from, To: []string{"ops@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	n := provisioner.Notice{ID: "n1", Kind: provisioner.NoticeDestroySoon, Cluster: "demo",
		Subject: "SlideRule cluster demo will be destroyed in 10m", Text: "Cluster demo ...\nprovisioner extend demo --ttl 1h\n",
		To: []string{"ada@example.org", "bad address"}}

	err = s.Send(t.Context(), n)
	if provisioner.ErrorCode(err) != provisioner.EINVALID || !provisioner.PermanentNoticeError(err) ||
		!strings.Contains(provisioner.ErrorMessage(err), "MessageRejected") {
		t.Fatalf("unverified sender: %v", err)
	}

	emulator(t, http.MethodPost, "/v2/email/identities", "application/json", `{"EmailIdentity":"`+from+`"}`)
	before := sentLast24Hours(t)
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	// The operator and the owner; the bad address is dropped. (The count is
	// the emulator's for every test at once: at least ours.)
	if got := sentLast24Hours(t) - before; got < 2 {
		t.Fatalf("SES counted %d recipients, want 2", got)
	}
}

// TestRequestAndAnswers: the request is SigV4-signed for "ses" in the
// region and carries the notice; throttling and server faults are worth a
// retry, refusals are final, and no answer is worth a retry.
func TestRequestAndAnswers(t *testing.T) {
	var mu sync.Mutex
	var reqs []*http.Request
	var bodies [][]byte
	answers := []struct {
		status int
		typ    string
	}{{200, ""}, {503, ""}, {429, ""}, {400, "LimitExceededException"}, {400, "MessageRejected:http://internal.amazon.com/coral/"},
		{403, "AccessDeniedException"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		i := len(reqs)
		reqs, bodies = append(reqs, r), append(bodies, b)
		mu.Unlock()
		a := answers[i%len(answers)]
		if a.typ != "" {
			w.Header().Set("X-Amzn-ErrorType", a.typ)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(`{"message":"no"}`))
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL + "/"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	s, err := New(cfg, Config{From: "provisioner@example.org", To: []string{"ops@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	n := provisioner.Notice{ID: "n1", Subject: "line\r\nBcc: x", Text: "body text", To: []string{"ada@example.org"}}
	want := []string{"", provisioner.EUNAVAILABLE, provisioner.EUNAVAILABLE, provisioner.EUNAVAILABLE, provisioner.EINVALID, provisioner.EINVALID}
	for i, code := range want {
		if err := s.Send(t.Context(), n); provisioner.ErrorCode(err) != code {
			t.Errorf("answer %d: %v, want %q", i, err, code)
		}
	}
	r := reqs[0]
	if r.URL.Path != "/v2/email/outbound-emails" || r.Method != http.MethodPost ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") ||
		!strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/ses/aws4_request") || r.Header.Get("X-Amz-Date") == "" {
		t.Fatalf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	var got sendEmail
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.FromEmailAddress != "provisioner@example.org" || strings.Join(got.Destination.ToAddresses, ",") != "ops@example.org,ada@example.org" ||
		got.Content.Simple.Subject.Data != "line  Bcc: x" || got.Content.Simple.Body.Text.Data != "body text" {
		t.Fatalf("body %s", bodies[0])
	}

	// Nothing listens: worth a retry.
	srv.Close()
	if err := s.Send(t.Context(), n); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("no answer: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	cfg := aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
	for _, c := range []Config{
		{From: "", To: []string{"o@example.org"}},
		{From: "Provisioner <p@example.org>", To: []string{"o@example.org"}},
		{From: "p@example.org"},
		{From: "p@example.org", To: []string{"o@example.org", "x\r\ny"}},
	} {
		if _, err := New(cfg, c); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := New(aws.Config{}, Config{From: "p@example.org", To: []string{"o@example.org"}}); err == nil {
		t.Error("no region or credentials accepted")
	}
	s, err := New(aws.Config{Region: "cn-north-1", Credentials: cfg.Credentials}, Config{From: "p@example.org", To: []string{"o@example.org"}})
	if err != nil || s.endpoint != "https://email.cn-north-1.amazonaws.com.cn" {
		t.Fatalf("%v %v", s, err)
	}
}
