package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/s3"
)

var ctx = context.Background()

type fixture struct {
	client *awss3.Client
	calls  *awsenv.Counter
	bucket string
	cfg    aws.Config
}

// newFixture creates a bucket of its own in the shared emulator and removes
// it (with whatever the test left in it) afterwards.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	cfg := awstest.Config(t)
	f := &fixture{cfg: cfg, bucket: awstest.Name("provisioner-logs")}
	f.calls = awsenv.Count(&f.cfg)
	f.client = awss3.NewFromConfig(f.cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	_, err := f.client.CreateBucket(ctx, &awss3.CreateBucketInput{
		Bucket: aws.String(f.bucket),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(awstest.Region),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, err := f.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(f.bucket)})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = f.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: o.Key})
			}
		}
		_, _ = f.client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(f.bucket)})
	})
	f.calls.Reset()
	return f
}

func (f *fixture) logs(t testing.TB, c s3.Config) *s3.Logs {
	t.Helper()
	c.Bucket, c.PathStyle = f.bucket, true
	l, err := s3.NewFromConfig(f.cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func read(t testing.TB, l provisioner.LogStore, key string) string {
	t.Helper()
	rc, err := l.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{Prefix: "logs"})
	key := "jobs/0123456789abcdef0123456789abcdef/log"
	for _, content := range []string{"step 1: ok\n", "step 1: ok\nstep 2: failed\n", ""} {
		if err := l.Put(ctx, key, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		if got := read(t, l, key); got != content {
			t.Fatalf("read %q, want %q", got, content)
		}
	}
	// The object lives under the prefix, with a text content type.
	out, err := f.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("logs/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	if ct := aws.ToString(out.ContentType); ct != "text/plain; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	if l.ObjectKey(key) != "logs/"+key || l.Bucket() != f.bucket {
		t.Fatalf("ObjectKey %q, Bucket %q", l.ObjectKey(key), l.Bucket())
	}
	// Without a prefix, keys are object keys.
	root := f.logs(t, s3.Config{})
	if got := read(t, root, "logs/"+key); got != "" {
		t.Fatalf("root read %q", got)
	}
}

func TestOpenIsOneRequest(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{})
	if err := l.Put(ctx, "jobs/j/log", strings.NewReader("line\n")); err != nil {
		t.Fatal(err)
	}
	f.calls.Reset()
	for range 3 {
		read(t, l, "jobs/j/log")
	}
	if got := strings.Join(f.calls.Calls(), " "); got != "S3.GetObject=3" {
		t.Fatalf("calls %s", got)
	}
}

func TestMissing(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{Prefix: "logs/"})
	if _, err := l.Open(ctx, "jobs/none/log"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := l.OpenAt(ctx, "jobs/none/log", 10); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("missing key at an offset: %v", err)
	}
	// A missing bucket is a misconfiguration, not a missing log.
	nb, err := s3.NewFromConfig(f.cfg, s3.Config{Bucket: awstest.Name("provisioner-nobucket"), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = nb.Open(ctx, "jobs/none/log")
	if provisioner.ErrorCode(err) != provisioner.EINTERNAL {
		t.Fatalf("missing bucket: %v", err)
	}
	if msg := provisioner.ErrorMessage(err); strings.Contains(msg, "provisioner-nobucket") {
		t.Fatalf("caller-visible message leaks the bucket: %q", msg)
	}
	if err := nb.Put(ctx, "k", strings.NewReader("x")); provisioner.ErrorCode(err) != provisioner.EINTERNAL {
		t.Fatalf("put to a missing bucket: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{Prefix: "logs"})
	for _, key := range []string{
		"", "/jobs/x/log", "jobs/x/log/", "jobs//log", "../secret", "jobs/../../secret", "jobs/./log", ".",
		"..", "jobs\\..\\x", "jobs/x log", "jobs/x\nlog", "jobs/\x00", "jobs/é", "jobs/%2e%2e", "jobs/x?y",
		strings.Repeat("a", s3.MaxKeyLen+1),
	} {
		if err := l.Put(ctx, key, strings.NewReader("x")); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Put(%q): %v", key, err)
		}
		if _, err := l.Open(ctx, key); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Open(%q): %v", key, err)
		}
	}
	if f.calls.Total() != 0 {
		t.Fatalf("bad keys reached S3: %v", f.calls.Calls())
	}
	for _, key := range []string{"a", "jobs/0123/log", "audit/20260102T150405Z-20260103T000000Z.jsonl", "x/..y/z..", "a=b,c+d@e_f-g", strings.Repeat("a", s3.MaxKeyLen)} {
		if err := s3.ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q): %v", key, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	c := awss3.New(awss3.Options{Region: awstest.Region}) // never called
	for _, cfg := range []s3.Config{
		{}, {Bucket: "ab"}, {Bucket: "Upper"}, {Bucket: "-bucket"}, {Bucket: "bucket-"}, {Bucket: "b_c"},
		{Bucket: "bucket", Prefix: "/logs"}, {Bucket: "bucket", Prefix: "../logs"}, {Bucket: "bucket", Prefix: "a//b"},
		{Bucket: "bucket", PartSize: 1 << 20},
	} {
		if _, err := s3.New(c, cfg); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
	if _, err := s3.New(nil, s3.Config{Bucket: "bucket"}); err == nil {
		t.Error("New without a client succeeded")
	}
	l, err := s3.New(c, s3.Config{Bucket: "my.bucket-1", Prefix: "prod/logs/"})
	if err != nil || l.ObjectKey("k") != "prod/logs/k" {
		t.Fatalf("New: %v", err)
	}
}

// stream is a reproducible, non-seekable byte stream of n bytes.
type stream struct {
	rng *rand.ChaCha8
	n   int64
	err error // returned instead of io.EOF, when set
}

func newStream(n int64) *stream {
	return &stream{rng: rand.NewChaCha8([32]byte{1}), n: n}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.n <= 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n, 100_000)] // short reads, as from a pipe
	_, _ = s.rng.Read(p)
	s.n -= int64(len(p))
	return len(p), nil
}

func digest(t testing.TB, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil)), n
}

func TestLargeObjects(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{PartSize: s3.MinPartSize})
	for _, tc := range []struct {
		name  string
		size  int64
		calls string
	}{
		{"one-part", s3.MinPartSize - 1, "S3.PutObject=1"},
		{"exactly-one-part", s3.MinPartSize, "S3.PutObject=1"},
		{"just-over", s3.MinPartSize + 1, "S3.CompleteMultipartUpload=1 S3.CreateMultipartUpload=1 S3.UploadPart=2"},
		{"two-full-parts", 2 * s3.MinPartSize, "S3.CompleteMultipartUpload=1 S3.CreateMultipartUpload=1 S3.UploadPart=2"},
		{"12MiB", 12 << 20, "S3.CompleteMultipartUpload=1 S3.CreateMultipartUpload=1 S3.UploadPart=3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "jobs/" + tc.name + "/log"
			want, _ := digest(t, newStream(tc.size))
			f.calls.Reset()
			if err := l.Put(ctx, key, newStream(tc.size)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.calls.Calls(), " "); got != tc.calls {
				t.Errorf("calls %s, want %s", got, tc.calls)
			}
			rc, err := l.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			got, n := digest(t, rc)
			rc.Close()
			if n != tc.size || got != want {
				t.Fatalf("read back %d bytes (digest match %t), want %d", n, got == want, tc.size)
			}
			// A follower that read the first part fetches only the rest.
			rc, err = l.OpenAt(ctx, key, s3.MinPartSize-1)
			if err != nil {
				t.Fatal(err)
			}
			_, rest := digest(t, rc)
			rc.Close()
			if rest != tc.size-(s3.MinPartSize-1) {
				t.Fatalf("OpenAt read %d bytes", rest)
			}
		})
	}
}

func TestFailedPutKeepsOldContent(t *testing.T) {
	f := newFixture(t)
	l := f.logs(t, s3.Config{PartSize: s3.MinPartSize})
	key := "jobs/failing/log"
	if err := l.Put(ctx, key, strings.NewReader("old\n")); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{100, 2*s3.MinPartSize + 100} { // single put, multipart
		bad := newStream(size)
		bad.err = errors.New("disk on fire")
		f.calls.Reset()
		err := l.Put(ctx, key, bad)
		if provisioner.ErrorCode(err) != provisioner.EINTERNAL || !errors.Is(err, bad.err) {
			t.Fatalf("Put with a failing reader: %v", err)
		}
		if got := read(t, l, key); got != "old\n" {
			t.Fatalf("after a failed put of %d bytes the log reads %q", size, got)
		}
		if size > s3.MinPartSize {
			if calls := strings.Join(f.calls.Calls(), " "); !strings.Contains(calls, "S3.AbortMultipartUpload=1") {
				t.Fatalf("failed multipart upload not aborted: %s", calls)
			}
			up, err := f.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(f.bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if len(up.Uploads) != 0 {
				t.Fatalf("%d multipart uploads left behind", len(up.Uploads))
			}
		}
	}
}

// BenchmarkOpen is one small-log GetObject against the emulator (moto over
// loopback HTTP): emulator-bound, not a measure of S3.
func BenchmarkOpen(b *testing.B) {
	f := newFixture(b)
	l := f.logs(b, s3.Config{})
	if err := l.Put(ctx, "jobs/bench/log", bytes.NewReader(make([]byte, 16<<10))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rc, err := l.Open(ctx, "jobs/bench/log")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
}
