package cloudformation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awss3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
	"provisioner/plan"
)

// jobPlan is the plan a job runs: what Start stored, else the plan for its
// kind and version now.
func (r *Runner) jobPlan(ctx context.Context, j provisioner.Job) (plan.Plan, error) {
	b, err := r.get(ctx, r.planKey(j.ID), 4<<20)
	if err != nil {
		return plan.Plan{}, err
	}
	if b != nil {
		var p plan.Plan
		if err := json.Unmarshal(b, &p); err == nil && p.Validate() == nil && p.Kind == j.Kind {
			return p, nil
		}
		r.log.Warn("unreadable stored plan: using the current one", "job", j.ID)
	}
	return r.cfg.Plans.For(j.Kind, j.Version)
}

func (r *Runner) put(ctx context.Context, key, contentType string, b []byte) error {
	_, err := r.cfg.S3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String(contentType),
	})
	if err != nil {
		return cfnError(ctx, err, "cannot store the job's record", "put "+key)
	}
	return nil
}

// get reads an object of at most limit bytes; nil if there is none.
func (r *Runner) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	out, err := r.cfg.S3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
	if s3NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, cfnError(ctx, err, "cannot read the job's results", "get "+key)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, cfnError(ctx, err, "cannot read the job's results", "read "+key)
	}
	if int64(len(b)) > limit {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "%s is larger than %d bytes", key, limit)
	}
	return b, nil
}

// result reads the job's result.json: nil if there is none; bad if it is
// unreadable; err if S3 failed.
func (r *Runner) result(ctx context.Context, id string) (res *plan.Result, bad error, err error) {
	b, err := r.get(ctx, r.objectKey("jobs/"+id+"/result.json"), plan.MaxResultSize)
	if err != nil || b == nil {
		return nil, nil, err
	}
	res, bad = plan.ParseResult(b)
	if bad == nil && res.JobID != id {
		res, bad = nil, fmt.Errorf("the result is job %s's", truncate(res.JobID, 64))
	}
	return res, bad, nil
}

// evaluate applies the plan's rule to a result, reading JUnit reports from
// S3. An S3 failure (not a missing report) is an error.
func (r *Runner) evaluate(ctx context.Context, j provisioner.Job, res *plan.Result) (provisioner.JobStatus, error) {
	p, err := r.jobPlan(ctx, j)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	var s3err error
	st := plan.Evaluate(p, res, func(rel string) (io.ReadCloser, error) {
		key := r.objectKey("jobs/" + j.ID + "/" + rel)
		out, err := r.cfg.S3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
		if err != nil {
			if s3NotFound(err) {
				return nil, errors.New("not uploaded")
			}
			s3err = cfnError(ctx, err, "cannot read the job's JUnit reports", "get "+key)
			return nil, err
		}
		return out.Body, nil
	})
	if s3err != nil {
		return provisioner.JobStatus{}, s3err
	}
	return st, nil
}

func s3NotFound(err error) bool {
	var nsk *awss3types.NoSuchKey
	var nf *awss3types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || apiCode(err) == "NoSuchKey" || apiCode(err) == "NotFound"
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// maxSecretsObject bounds RunnerConfig.SecretsKey's object.
const maxSecretsObject = 256 << 10

// checkSecrets reads the operator's secrets object (SecretsKey), if any,
// and checks it as the machine will read it, so that a job does not start
// with secrets it cannot use. The values stay here.
func (r *Runner) checkSecrets(ctx context.Context) error {
	if r.cfg.SecretsKey == "" {
		return nil
	}
	b, err := r.get(ctx, r.cfg.SecretsKey, maxSecretsObject)
	if err != nil {
		return err
	}
	if b == nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s does not exist", r.cfg.Bucket, r.cfg.SecretsKey)
	}
	if _, err := plan.ParseSecrets(b); err != nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s: %v", r.cfg.Bucket, r.cfg.SecretsKey, err)
	}
	return nil
}
