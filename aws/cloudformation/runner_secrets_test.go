package cloudformation_test

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
	"provisioner/aws/cloudformation"
)

// The job secrets object: Start reads and checks it; its values reach
// neither the stack's parameters nor the user data, which fetches the
// object on the machine into the job's SECRETS_FILE.
func TestRunnerJobSecretsObject(t *testing.T) {
	const secret = "ghp_v3ry-s3cret'value"
	key := "job-secrets-" + newJobID() + ".env"
	w := newRunnerWorld(t, false, func(c *cloudformation.RunnerConfig) { c.SecretsKey = key })
	j := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", RequestedBy: "ada",
		CreatedAt: w.Now(), Deadline: w.Now().Add(time.Hour)}
	// No object yet: the job does not start.
	if _, err := w.r.Start(bg, j); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("start without the secrets object: %v", err)
	}
	put := func(body string) {
		t.Helper()
		if _, err := w.s3.PutObject(bg, &awss3.PutObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key),
			Body: strings.NewReader(body), ServerSideEncryption: s3types.ServerSideEncryptionAes256}); err != nil {
			t.Fatal(err)
		}
	}
	put("not a secret line\n")
	if _, err := w.r.Start(bg, j); err == nil || strings.Contains(err.Error(), "not a secret line") {
		t.Fatalf("start with a bad secrets object: %v", err)
	}
	put("# the operator's\nSLIDERULE_GITHUB_TOKEN=" + secret + "\n")
	if _, err := w.r.Start(bg, j); err != nil {
		t.Fatal(err)
	}
	st := w.stack(t, j.ID)
	if st == nil {
		t.Fatal("no stack")
	}
	p := params(st)
	var names []string
	for k, v := range p {
		if strings.Contains(v, "s3cret") {
			t.Errorf("stack parameter %s holds the secret", k)
		}
		if strings.HasPrefix(k, "UserData") {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(a, b int) bool {
		return len(names[a]) < len(names[b]) || len(names[a]) == len(names[b]) && names[a] < names[b]
	})
	var enc strings.Builder
	for _, k := range names {
		enc.WriteString(p[k])
	}
	ud, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SECRETS_URI='s3://" + w.bucket + "/" + key + "'", `aws s3 cp --only-show-errors "$SECRETS_URI" "$js_raw"`,
		"SECRETS_FILE='" + cloudformation.MachineDir + "/secrets.env'"} {
		if !strings.Contains(string(ud), want) {
			t.Errorf("the user data lacks %q", want)
		}
	}
	if strings.Contains(string(ud), "s3cret") {
		t.Error("the user data holds the secret")
	}
}
