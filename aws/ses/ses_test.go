package ses

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"provisioner"
	"provisioner/aws/awstest"
)

// sentLast24Hours asks the emulator's SES (the v1 query API, which the
// provisioner does not link) how many recipients it has sent to.
func sentLast24Hours(t *testing.T) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, awstest.Endpoint(t),
		strings.NewReader(url.Values{"Action": {"GetSendQuota"}, "Version": {"2010-12-01"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/"+awstest.Region+"/ses/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Sent string `xml:"GetSendQuotaResult>SentLast24Hours"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(out.Sent, 64)
	if err != nil {
		t.Fatalf("SentLast24Hours %q", out.Sent)
	}
	return int(f)
}

func TestSendAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	client := sesv2.NewFromConfig(cfg)
	from := awstest.Name("provisioner") + "@example.org"
	s, err := New(cfg, Config{From: from, To: []string{"ops@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	n := provisioner.Notice{ID: "n1", Kind: provisioner.NoticeDestroySoon, Cluster: "demo",
		Subject: "SlideRule cluster demo will be destroyed in 10m", Text: "Cluster demo ...\nprovisioner extend demo --ttl 1h\n",
		To: []string{"ada@example.org", "bad address"}}

	// An unverified sender is refused, for good.
	err = s.Send(t.Context(), n)
	if provisioner.ErrorCode(err) != provisioner.EINVALID || !provisioner.PermanentNoticeError(err) ||
		!strings.Contains(provisioner.ErrorMessage(err), "MessageRejected") {
		t.Fatalf("unverified sender: %v", err)
	}

	if _, err := client.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
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

func TestTransientErrors(t *testing.T) {
	// Nothing listens: the network fails, which is worth a retry.
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		RetryMaxAttempts: 1}
	s, err := New(cfg, Config{From: "p@example.org", To: []string{"ops@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), provisioner.Notice{ID: "x", Subject: "s", Text: "t"})
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("%v", err)
	}
}

func TestBadConfig(t *testing.T) {
	client := sesv2.New(sesv2.Options{Region: "us-west-2"})
	for _, c := range []Config{
		{From: "", To: []string{"o@example.org"}},
		{From: "Provisioner <p@example.org>", To: []string{"o@example.org"}},
		{From: "p@example.org"},
		{From: "p@example.org", To: []string{"o@example.org", "x\r\ny"}},
	} {
		if _, err := NewFromClient(client, c); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := NewFromClient(nil, Config{From: "p@example.org", To: []string{"o@example.org"}}); err == nil {
		t.Error("nil client accepted")
	}
}
