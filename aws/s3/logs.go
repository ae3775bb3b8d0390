// Package s3 is the provisioner.LogStore of the AWS backend: job logs and
// audit exports as objects in one S3 bucket, under a key prefix.
//
// Put replaces an object as a whole: small content (under one part, 8 MiB
// by default) is one PutObject; larger content is streamed as a multipart
// upload, holding one part in memory, and appears only when the upload
// completes, so a reader sees the old object or the new one, never a mix.
//
// Job logs are followed while a job runs by opening them again and again.
// Open is one GetObject whose body is streamed, with no HeadObject or
// listing before it; OpenAt starts at a byte offset with a ranged GET, so a
// follower that knows how far it read fetches only what is new.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
)

const (
	// MaxKeyLen bounds a key (without the prefix); S3 allows 1024 bytes
	// for the whole object key.
	MaxKeyLen = 512
	// maxPrefixLen bounds the prefix, so prefix and key always fit S3.
	maxPrefixLen = 256
	// MinPartSize is S3's smallest part of a multipart upload (but the last).
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size of a multipart upload, and the size
	// up to which Put sends a single PutObject.
	DefaultPartSize = 8 << 20
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
	// abortTimeout bounds the clean-up of a failed multipart upload.
	abortTimeout = 30 * time.Second
)

// API is the part of the S3 client Logs uses; *s3.Client implements it.
type API interface {
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *awss3.CreateMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *awss3.UploadPartInput, optFns ...func(*awss3.Options)) (*awss3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *awss3.CompleteMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *awss3.AbortMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.AbortMultipartUploadOutput, error)
}

// Config configures Logs.
type Config struct {
	// Bucket holds the logs.
	Bucket string
	// Prefix is put before every key, e.g. "logs" or "prod/logs/"; a
	// missing trailing "/" is added. Empty: the bucket root.
	Prefix string
	// PathStyle addresses the bucket in the URL path rather than in the
	// host name: needed by emulators (moto) and some S3-compatible
	// endpoints. Used by NewFromConfig only.
	PathStyle bool
	// PartSize is the multipart part size, at least MinPartSize; zero
	// means DefaultPartSize.
	PartSize int
}

// Logs implements provisioner.LogStore on S3. It is safe for concurrent use.
type Logs struct {
	api      API
	bucket   string
	prefix   string // "" or ends in "/"
	partSize int
}

var _ provisioner.LogStore = (*Logs)(nil)

// New returns Logs on c.Bucket through api. It makes no call to S3.
func New(api API, c Config) (*Logs, error) {
	if api == nil {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "S3 logs need an S3 client")
	}
	if !validBucket(c.Bucket) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid S3 bucket name %q", c.Bucket)
	}
	prefix := c.Prefix
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/")
		if len(prefix) > maxPrefixLen || ValidKey(prefix) != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "invalid S3 key prefix %q", c.Prefix)
		}
		prefix += "/"
	}
	part := c.PartSize
	switch {
	case part == 0:
		part = DefaultPartSize
	case part < MinPartSize || part > 1<<30:
		return nil, provisioner.Errorf(provisioner.EINVALID, "S3 part size must be between %d and %d bytes", MinPartSize, 1<<30)
	}
	return &Logs{api: api, bucket: c.Bucket, prefix: prefix, partSize: part}, nil
}

// NewFromConfig is New with an S3 client made from cfg (path-style when
// c.PathStyle is set).
func NewFromConfig(cfg aws.Config, c Config) (*Logs, error) {
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = c.PathStyle })
	return New(client, c)
}

// Bucket returns the bucket name.
func (l *Logs) Bucket() string { return l.bucket }

// ObjectKey returns the S3 object key of key: the prefix and key.
func (l *Logs) ObjectKey(key string) string { return l.prefix + key }

// Put stores everything r yields under key, replacing what was there. The
// new content becomes visible at once, when the upload completes; if r or
// S3 fails, the old content stays.
func (l *Logs) Put(ctx context.Context, key string, r io.Reader) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	first, err := readPart(r, l.partSize, nil)
	if err != nil {
		return err
	}
	var second []byte
	if len(first) == l.partSize {
		if second, err = readPart(r, l.partSize, nil); err != nil {
			return err
		}
	}
	if len(second) == 0 {
		_, err := l.api.PutObject(ctx, &awss3.PutObjectInput{
			Bucket:        aws.String(l.bucket),
			Key:           aws.String(l.ObjectKey(key)),
			Body:          bytes.NewReader(first),
			ContentLength: aws.Int64(int64(len(first))),
			ContentType:   aws.String(contentType(key)),
		})
		if err != nil {
			return s3Error(ctx, err, "cannot store log", "put "+l.ObjectKey(key))
		}
		return nil
	}
	return l.multipart(ctx, key, r, first, second)
}

// multipart uploads the two parts already read and the rest of r, one
// part in flight and at most two in memory (the buffer of a part that has
// been sent is reused for the one after next).
func (l *Logs) multipart(ctx context.Context, key string, r io.Reader, first, second []byte) (err error) {
	okey := l.ObjectKey(key)
	up, err := l.api.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:      aws.String(l.bucket),
		Key:         aws.String(okey),
		ContentType: aws.String(contentType(key)),
	})
	if err != nil {
		return s3Error(ctx, err, "cannot store log", "create multipart upload "+okey)
	}
	defer func() {
		if err == nil {
			return
		}
		// Parts of an unfinished upload are billed until aborted (a bucket
		// lifecycle rule for incomplete uploads is the backstop).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, _ = l.api.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(l.bucket), Key: aws.String(okey), UploadId: up.UploadId,
		})
	}()
	var parts []types.CompletedPart
	cur, next := first, second
	for n := int32(1); ; n++ {
		if n > maxParts {
			return provisioner.Errorf(provisioner.ETOOLARGE, "log is too large to store")
		}
		out, err := l.api.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:        aws.String(l.bucket),
			Key:           aws.String(okey),
			UploadId:      up.UploadId,
			PartNumber:    aws.Int32(n),
			Body:          bytes.NewReader(cur),
			ContentLength: aws.Int64(int64(len(cur))),
		})
		if err != nil {
			return s3Error(ctx, err, "cannot store log", fmt.Sprintf("upload part %d of %s", n, okey))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		if len(next) == 0 {
			break // cur was the last part
		}
		var after []byte
		if len(next) == l.partSize { // else next is the last part
			if after, err = readPart(r, l.partSize, cur); err != nil {
				return err
			}
		}
		cur, next = next, after
	}
	_, err = l.api.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(l.bucket),
		Key:             aws.String(okey),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return s3Error(ctx, err, "cannot store log", "complete multipart upload "+okey)
	}
	return nil
}

// readPart reads up to size bytes of r, reusing buf's memory. Without a
// buffer it starts small and doubles, so a short log never costs a whole
// part of memory.
func readPart(r io.Reader, size int, buf []byte) ([]byte, error) {
	buf = buf[:0]
	if cap(buf) == 0 {
		buf = make([]byte, 0, min(size, 64<<10))
	}
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), size))
			copy(grown, buf)
			buf = grown
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), size)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			break
		}
		if err != nil {
			var e *provisioner.Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read log content")
		}
	}
	return buf, nil
}

// Open returns the content under key, streamed, or ENOTFOUND. It is one
// GetObject request, cheap enough to repeat while following a running job
// (OpenAt repeats less).
func (l *Logs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return l.OpenAt(ctx, key, 0)
}

// OpenAt is Open starting at byte offset: a ranged GetObject, so a follower
// of a growing log fetches only what it has not read. An offset at or past
// the end yields an empty reader (the object exists; nothing is new).
func (l *Logs) OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "offset must not be negative")
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(l.ObjectKey(key))}
	if offset > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	out, err := l.api.GetObject(ctx, in)
	switch {
	case err == nil:
		return out.Body, nil
	case notFound(err):
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "log %q does not exist", key)
	case offset > 0 && (apiCode(err) == "InvalidRange" || httpStatus(err) == http.StatusRequestedRangeNotSatisfiable):
		return io.NopCloser(strings.NewReader("")), nil
	}
	return nil, s3Error(ctx, err, "cannot read log", "get "+l.ObjectKey(key))
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	return errors.As(err, &nsk) || apiCode(err) == "NoSuchKey"
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func contentType(key string) string {
	if strings.HasSuffix(key, ".jsonl") {
		return "application/x-ndjson"
	}
	return "text/plain; charset=utf-8"
}

// ValidKey checks a LogStore key: 1 to MaxKeyLen bytes of letters, digits
// and "-_.=+,@", in segments separated by single "/", none of them "." or
// "..", and neither starting nor ending with "/". Such keys mean the same
// as object keys, file paths and URL paths, so one key can never reach
// another's object, or a file outside the log directory.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) {
		return badKey(key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return badKey(key)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.=+,@", c) >= 0) {
				return badKey(key)
			}
		}
	}
	return nil
}

func badKey(key string) error {
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return provisioner.Errorf(provisioner.EINVALID, "invalid log key %q", key)
}

// validBucket checks the S3 bucket naming rules that matter for addressing:
// 3 to 63 lower-case letters, digits, "-" and ".", starting and ending with
// a letter or digit.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (c != '-' && c != '.' || i == 0 || i == len(b)-1) {
			return false
		}
	}
	return true
}
