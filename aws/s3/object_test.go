package s3_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner/aws/s3"
)

// TestObjectLoader: the first read returns the object and its ETag; with
// that ETag an unchanged object is not sent again (If-None-Match); a
// changed one is; a missing one is an error naming it.
func TestObjectLoader(t *testing.T) {
	f := newFixture(t)
	load := s3.ObjectLoader(f.client, f.bucket, "cfg/affiliates.json")
	if _, _, err := load(ctx, ""); err == nil || !strings.Contains(err.Error(), "cfg/affiliates.json") {
		t.Fatalf("missing object: %v", err)
	}
	put := func(s string) {
		t.Helper()
		if _, err := f.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("cfg/affiliates.json"), Body: strings.NewReader(s)}); err != nil {
			t.Fatal(err)
		}
	}
	put(`{}`)
	data, etag, err := load(ctx, "")
	if err != nil || string(data) != `{}` || etag == "" {
		t.Fatalf("first read: %q %q %v", data, etag, err)
	}
	data, again, err := load(ctx, etag)
	if err != nil || data != nil || again != etag {
		t.Fatalf("unchanged: %q %q %v", data, again, err)
	}
	put(`{"x": 1}`)
	data, changed, err := load(ctx, etag)
	if err != nil || string(data) != `{"x": 1}` || changed == etag {
		t.Fatalf("changed: %q %q %v", data, changed, err)
	}
	for _, bad := range []string{"bucket/key", "s3://bucket", "s3://B/key", "s3://bucket/"} {
		if _, _, err := s3.ParseObjectURL(bad); err == nil {
			t.Errorf("ParseObjectURL(%q) accepted", bad)
		}
	}
	if b, k, err := s3.ParseObjectURL("s3://my-bucket/a/b.json"); err != nil || b != "my-bucket" || k != "a/b.json" {
		t.Errorf("ParseObjectURL: %q %q %v", b, k, err)
	}
}
