package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// ObjectGetter is the part of the S3 client ObjectLoader uses.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
}

// maxObject bounds a small configuration object (the affiliates file).
const maxObject = 4 << 20

// ObjectLoader reads one small object, such as the affiliates file: given
// the ETag it returned last it asks with If-None-Match, and answers nil
// data with the same ETag while the object is unchanged.
func ObjectLoader(api ObjectGetter, bucket, key string) func(ctx context.Context, etag string) ([]byte, string, error) {
	return func(ctx context.Context, etag string) ([]byte, string, error) {
		in := &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
		if etag != "" {
			in.IfNoneMatch = aws.String(etag)
		}
		out, err := api.GetObject(ctx, in)
		if err != nil {
			if etag != "" && httpStatus(err) == http.StatusNotModified {
				return nil, etag, nil
			}
			return nil, "", fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		defer out.Body.Close()
		data, err := io.ReadAll(io.LimitReader(out.Body, maxObject+1))
		if err != nil {
			return nil, "", fmt.Errorf("s3://%s/%s: %v", bucket, key, err)
		}
		if len(data) > maxObject {
			return nil, "", fmt.Errorf("s3://%s/%s is larger than %d bytes", bucket, key, maxObject)
		}
		return data, aws.ToString(out.ETag), nil
	}
}

// IsNotFound tells an ObjectLoader's error for an object (or bucket) that
// does not exist.
func IsNotFound(err error) bool { return httpStatus(err) == http.StatusNotFound }

// ParseObjectURL splits "s3://BUCKET/KEY".
func ParseObjectURL(u string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if ok {
		bucket, key, ok = strings.Cut(rest, "/")
	}
	if !ok || !validBucket(bucket) || key == "" {
		return "", "", fmt.Errorf("%q is not s3://BUCKET/KEY", u)
	}
	return bucket, key, nil
}
