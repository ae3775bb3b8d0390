package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
)

// deleteStack deletes a job stack with the cluster driver's rules: by id,
// idempotent, retried then forced after DELETE_FAILED; one busy rolling
// back is left for the next call.
func (r *Runner) deleteStack(ctx context.Context, st *types.Stack) error {
	return r.stacks.remove(ctx, st, "job stack "+aws.ToString(st.StackName))
}

// Cancel records the cancellation (so that Poll says cancelled rather than
// lost) and deletes the job's stack; a job without one is left as it is.
func (r *Runner) Cancel(ctx context.Context, j provisioner.Job) error {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncate(j.ID, 64))
	}
	st, err := r.jobStack(ctx, j.ID)
	if err != nil || st == nil || st.StackStatus == types.StackStatusDeleteInProgress {
		return err
	}
	if err := r.put(ctx, r.cancelKey(j.ID), "text/plain", []byte(r.cfg.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	if err := r.deleteStack(ctx, st); err != nil {
		return err
	}
	r.log.Info("job cancelled: stack deleted", "job", j.ID, "stack", aws.ToString(st.StackName))
	return nil
}

// Reaped is a stack Reap deleted, and why.
type Reaped struct {
	Stack  string
	JobID  string
	Reason string
}

// JobLookup finds a job by id; an error with code ENOTFOUND means there is
// no such job (a provisioner.JobStore's GetJob is one).
type JobLookup func(ctx context.Context, id string) (provisioner.Job, error)

// Reap deletes this deployment's job stacks that outlived their job: past
// the hard deadline of their provisioner:deadline tag or of the job, the
// job final or unknown (and the stack older than ReapGrace). A stack whose
// delete failed is deleted again (forced after DeleteRetries). A stack
// whose job cannot be looked up now is left for the next sweep.
func (r *Runner) Reap(ctx context.Context, lookup JobLookup) ([]Reaped, error) {
	var all []types.Stack
	pages := cfn.NewDescribeStacksPaginator(r.cfg.Client, &cfn.DescribeStacksInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, cfnError(ctx, err, "CloudFormation did not list the job stacks", "DescribeStacks")
		}
		all = append(all, out.Stacks...)
	}
	now := r.cfg.Now()
	var reaped []Reaped
	var errs []error
	for i := range all {
		st := &all[i]
		t := stackTags(st)
		jobID := t[JobTagJobID]
		if sn := aws.ToString(st.StackName); t[JobTagDeployment] != r.cfg.Name || jobID == "" ||
			sn != r.StackName(jobID) && sn != r.OnDemandStackName(jobID) {
			continue
		}
		if st.StackStatus == types.StackStatusDeleteComplete || st.StackStatus == types.StackStatusDeleteInProgress {
			continue
		}
		why := ""
		deadline, derr := time.Parse(time.RFC3339, t[JobTagDeadline])
		switch {
		case st.StackStatus == types.StackStatusDeleteFailed:
			why = "its delete failed"
		case derr == nil && now.After(r.hardDeadline(deadline)):
			why = "past the job's deadline " + deadline.UTC().Format(time.RFC3339)
		default:
			j, err := lookup(ctx, jobID)
			switch {
			case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
				if now.Sub(aws.ToTime(st.CreationTime)) > ReapGrace {
					why = "the job does not exist"
				}
			case err != nil:
				errs = append(errs, err)
			case j.State.Final():
				why = "the job is " + string(j.State)
			case !j.Deadline.IsZero() && now.After(r.hardDeadline(j.Deadline)):
				why = "past the job's deadline " + j.Deadline.UTC().Format(time.RFC3339)
			}
		}
		if why == "" {
			continue
		}
		if err := r.deleteStack(ctx, st); err != nil {
			errs = append(errs, err)
			continue
		}
		r.log.Warn("reaped a job stack", "stack", aws.ToString(st.StackName), "job", jobID, "reason", why)
		reaped = append(reaped, Reaped{Stack: aws.ToString(st.StackName), JobID: jobID, Reason: why})
	}
	if err := errors.Join(errs...); err != nil {
		return reaped, fmt.Errorf("reaping job stacks: %w", err)
	}
	return reaped, nil
}
