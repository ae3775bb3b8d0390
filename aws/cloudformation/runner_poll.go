package cloudformation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	"provisioner/plan"
)

// jobStack is the job's current stack (the on-demand one once the job
// fell back to it) if it is there and this deployment's job's.
func (r *Runner) jobStack(ctx context.Context, id string) (*types.Stack, error) {
	st, _, _, err := r.currentStack(ctx, id)
	return st, err
}

// currentStack is the job's current stack, its name and the on-demand
// fallback record (nil: the job has not fallen back).
func (r *Runner) currentStack(ctx context.Context, id string) (st *types.Stack, name string, fb *fallbackRecord, err error) {
	b, err := r.get(ctx, r.fallbackKey(id), 4096)
	if err != nil {
		return nil, "", nil, err
	}
	name = r.StackName(id)
	if b != nil {
		fb = parseFallback(b)
		name = r.OnDemandStackName(id)
	}
	st, err = r.namedJobStack(ctx, id, name)
	return st, name, fb, err
}

// namedJobStack is the job stack name if it is there and this
// deployment's job's.
func (r *Runner) namedJobStack(ctx context.Context, id, name string) (*types.Stack, error) {
	st, err := r.stacks.describe(ctx, name)
	if err != nil || st == nil {
		return nil, err
	}
	t := stackTags(st)
	if t[JobTagDeployment] != r.cfg.Name || t[JobTagJobID] != id {
		return nil, provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not job %s's; the provisioner leaves it alone", name, id)
	}
	if st.StackStatus == types.StackStatusDeleteComplete {
		return nil, nil
	}
	return st, nil
}

// Poll observes a job: its result in S3 first, then its stack. The runner
// makes no EC2 call (the EC2 SDK is not in the binary). Poll reads the
// result from S3 and evaluates it; without a final result it looks at the
// stack: CREATE_IN_PROGRESS is provisioning, CREATE_COMPLETE is running, a
// failed or rolled-back create is an error (CloudFormation's reason is the
// job's), except a spot stack's failed for spot capacity or price
// (IsSpotCapacityFailure of its reason or its instance's event): Poll then
// falls back to on-demand, once per job (fallBack). An instance that ended
// without a final result (spot interruption, crash) leaves its stack
// CREATE_COMPLETE; the machine's heartbeat tells: it uploads its log every
// UploadInterval, so a log older than LostAfter (and a stack older than
// that) means the machine is gone: Poll deletes the stack and says error.
// A stack alive past the job's hard deadline is deleted and the job
// timed_out.
func (r *Runner) Poll(ctx context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.JobStatus{}, provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncate(j.ID, 64))
	}
	res, bad, err := r.result(ctx, j.ID)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if res != nil && res.State != plan.ScriptRunning {
		return r.finish(ctx, j, res)
	}
	var steps []provisioner.StepResult
	if res != nil {
		st, err := r.evaluate(ctx, j, res)
		if err != nil {
			return provisioner.JobStatus{}, err
		}
		steps = st.Steps
	}
	cancelled, err := r.get(ctx, r.cancelKey(j.ID), 4096)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	st, name, fb, err := r.currentStack(ctx, j.ID)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if cancelled != nil {
		if st != nil {
			if err := r.deleteStack(ctx, st); err != nil {
				return provisioner.JobStatus{}, err
			}
		}
		return jobEnded(provisioner.JobCancelled, "cancelled", steps), nil
	}
	now := r.cfg.Now()
	deadline := j.Deadline
	if deadline.IsZero() && st != nil {
		deadline, _ = time.Parse(time.RFC3339, stackTags(st)[JobTagDeadline])
	}
	if st == nil && fb != nil {
		if !deadline.IsZero() && now.After(r.hardDeadline(deadline)) {
			return r.gone(ctx, j, name, "its on-demand stack is gone", deadline, bad, steps)
		}
		if fb.stackID == "" {
			// A fallback interrupted before CloudFormation took the
			// on-demand stack: finish it (same name and token).
			return r.fallBack(ctx, j, nil, fb, deadline, "", steps)
		}
		if now.Sub(fb.at) < VisibilityGrace {
			return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
		}
		return r.gone(ctx, j, name, "its on-demand stack is gone", deadline, bad, steps)
	}
	if st == nil {
		if started := later(j.StartedAt, j.CreatedAt); !started.IsZero() && now.Sub(started) < VisibilityGrace {
			return provisioner.JobStatus{State: provisioner.JobProvisioning}, nil
		}
		if j.Instance == "" {
			return provisioner.JobStatus{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %s has no machine", j.ID)
		}
		return r.gone(ctx, j, name, "its stack is gone", deadline, bad, steps)
	}
	if !deadline.IsZero() && now.After(r.hardDeadline(deadline)) {
		r.log.Warn("job stack alive past its deadline: deleting it", "job", j.ID, "stack", name, "deadline", deadline)
		if err := r.deleteStack(ctx, st); err != nil {
			return provisioner.JobStatus{}, err
		}
		return jobEnded(provisioner.JobTimedOut, fmt.Sprintf("the job did not end by its deadline (%s); stack %s was deleted",
			deadline.UTC().Format(time.RFC3339), name), steps), nil
	}
	switch status := st.StackStatus; status {
	case types.StackStatusCreateInProgress:
		return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
	case types.StackStatusCreateComplete:
		last, err := r.heartbeat(ctx, j)
		if err != nil {
			return provisioner.JobStatus{}, err
		}
		if created := aws.ToTime(st.CreationTime); last.Before(created) {
			last = created
		}
		if now.Sub(last) > LostAfter {
			if err := r.deleteStack(ctx, st); err != nil {
				return provisioner.JobStatus{}, err
			}
			return r.gone(ctx, j, name, fmt.Sprintf("no upload from the machine since %s", last.UTC().Format(time.RFC3339)), deadline, bad, steps)
		}
		return provisioner.JobStatus{State: provisioner.JobRunning, Steps: steps}, nil
	case types.StackStatusDeleteInProgress:
		return r.gone(ctx, j, name, "its stack is being deleted", deadline, bad, steps)
	default:
		// The create failed (CloudFormation's reason says why: no spot
		// capacity, a bad image, rights): the job cannot run.
		why := "stack " + name + " is " + string(status)
		if reason := aws.ToString(st.StackStatusReason); reason != "" {
			why += ": " + reason
		}
		if fb == nil && failedCreate(status) && stackTags(st)[JobTagMarket] == "spot" {
			reason, err := r.capacityFailure(ctx, st)
			if err != nil {
				return provisioner.JobStatus{}, err
			}
			if reason != "" {
				return r.fallBack(ctx, j, st, nil, deadline, reason, steps)
			}
		}
		if fb != nil {
			why += " (after the spot stack failed for capacity; no further fallback)"
		}
		if deletable(status) {
			if err := r.deleteStack(ctx, st); err != nil {
				r.log.Warn("deleting a failed job stack", "job", j.ID, "err", err)
			}
		} else if strings.HasSuffix(string(status), "_IN_PROGRESS") {
			return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
		}
		return jobEnded(provisioner.JobError, why, steps), nil
	}
}

// fallbackRecord is job-plans/<id>.ondemand: written ("pending") before
// the on-demand stack is created, then its stack id. Its existence means
// the job fell back, once: no later Poll makes another stack.
type fallbackRecord struct {
	stackID string // "" while pending
	at      time.Time
}

func (f fallbackRecord) bytes() []byte {
	id := f.stackID
	if id == "" {
		id = "pending"
	}
	return []byte(id + "\n" + f.at.UTC().Format(time.RFC3339) + "\n")
}

func parseFallback(b []byte) *fallbackRecord {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := &fallbackRecord{}
	if lines[0] != "pending" {
		f.stackID = lines[0]
	}
	if len(lines) > 1 {
		f.at, _ = time.Parse(time.RFC3339, lines[1])
	}
	return f
}

// failedCreate is a create that ended failed (not one still rolling back).
func failedCreate(s types.StackStatus) bool {
	return s == types.StackStatusCreateFailed || s == types.StackStatusRollbackComplete || s == types.StackStatusRollbackFailed
}

// capacityCodes are EC2's answers (error codes of RunInstances and spot
// request status codes) that mean no spot capacity at our price now:
// another market may have it. Matched case-sensitively as written.
var capacityCodes = []string{
	"InsufficientInstanceCapacity",
	"UnfulfillableCapacity",
	"SpotMaxPriceTooLow",
	"MaxSpotInstanceCountExceeded",
	"capacity-not-available",
	"capacity-oversubscribed",
	"price-too-low",
}

// IsSpotCapacityFailure says whether a CloudFormation status reason is a
// spot capacity or price failure.
func IsSpotCapacityFailure(reason string) bool {
	for _, c := range capacityCodes {
		if strings.Contains(reason, c) {
			return true
		}
	}
	return false
}

// capacityFailure is the reason of a failed spot stack when it failed for
// spot capacity or price: the stack's reason, or its instance's failed
// create event; "" otherwise.
func (r *Runner) capacityFailure(ctx context.Context, st *types.Stack) (string, error) {
	if reason := aws.ToString(st.StackStatusReason); IsSpotCapacityFailure(reason) {
		return reason, nil
	}
	found := ""
	err := r.stacks.events(ctx, aws.ToString(st.StackId), 200, func(e types.StackEvent) bool {
		if e.ResourceStatus == types.ResourceStatusCreateFailed && aws.ToString(e.ResourceType) == "AWS::EC2::Instance" &&
			IsSpotCapacityFailure(aws.ToString(e.ResourceStatusReason)) {
			found = aws.ToString(e.ResourceStatusReason)
			return false
		}
		return true
	})
	return found, err
}

// fallBack replaces a job's spot stack that failed for capacity with an
// on-demand stack, <name>-od, once: the record is written first, so no
// other Poll makes a third stack; a record still pending (an interrupted
// fallback) is finished with the same stack name and request token. A new
// name, not the spot one reused: there is no wait for the delete, and the
// name and request token make the create idempotent. The job keeps its
// deadline and its stored plan.
func (r *Runner) fallBack(ctx context.Context, j provisioner.Job, spot *types.Stack, fb *fallbackRecord, deadline time.Time, reason string, steps []provisioner.StepResult) (provisioner.JobStatus, error) {
	if fb == nil {
		fb = &fallbackRecord{at: r.cfg.Now()}
		if err := r.put(ctx, r.fallbackKey(j.ID), "text/plain", fb.bytes()); err != nil {
			return provisioner.JobStatus{}, err
		}
		r.log.Warn("job's spot stack failed for capacity: falling back to on-demand", "job", j.ID,
			"stack", aws.ToString(spot.StackName), "reason", reason)
	}
	if spot != nil {
		if err := r.deleteStack(ctx, spot); err != nil {
			r.log.Warn("deleting a job's failed spot stack", "job", j.ID, "err", err)
		}
	}
	if !deadline.IsZero() {
		j.Deadline = deadline
	}
	p, err := r.jobPlan(ctx, j)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	s, err := r.launchPlan(j, &p)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	name := r.OnDemandStackName(j.ID)
	stackID, _, err := r.createStack(ctx, s, name, JobToken(r.cfg.Name, j.ID+OnDemandSuffix), "on-demand")
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	fb.stackID, fb.at = stackID, r.cfg.Now()
	if err := r.put(ctx, r.fallbackKey(j.ID), "text/plain", fb.bytes()); err != nil {
		r.log.Warn("recording a job's on-demand stack", "job", j.ID, "err", err)
	}
	r.log.Info("job on-demand stack created", "job", j.ID, "stack", name, "deadline", s.deadline)
	return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
}

// gone reports a job whose machine ended: its result if one arrived
// meanwhile, else an error or a time-out.
func (r *Runner) gone(ctx context.Context, j provisioner.Job, name, what string, deadline time.Time, bad error, steps []provisioner.StepResult) (provisioner.JobStatus, error) {
	if res, bad2, err := r.result(ctx, j.ID); err != nil {
		return provisioner.JobStatus{}, err
	} else if res != nil && res.State != plan.ScriptRunning {
		return r.finish(ctx, j, res)
	} else if bad2 != nil {
		bad = bad2
	}
	switch {
	case bad != nil:
		return jobEnded(provisioner.JobError, fmt.Sprintf("the machine of stack %s ended with an unreadable result (%v); see the job log", name, bad), steps), nil
	case !deadline.IsZero() && !r.cfg.Now().Before(deadline):
		return jobEnded(provisioner.JobTimedOut, fmt.Sprintf("the machine of stack %s ended at the job's deadline without a result (%s)", name, what), steps), nil
	}
	return jobEnded(provisioner.JobError, fmt.Sprintf("the machine of stack %s ended without a result (spot interruption?): %s", name, what), steps), nil
}

// heartbeat is when the machine last uploaded the job's log (zero: never).
func (r *Runner) heartbeat(ctx context.Context, j provisioner.Job) (time.Time, error) {
	key := r.objectKey(r.logKey(j))
	out, err := r.cfg.S3.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
	if s3NotFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, cfnError(ctx, err, "cannot read the job's log", "head "+key)
	}
	return aws.ToTime(out.LastModified), nil
}

// finish evaluates a final result and deletes the stack (the machine ends
// itself; this is the backstop, Reap the next one).
func (r *Runner) finish(ctx context.Context, j provisioner.Job, res *plan.Result) (provisioner.JobStatus, error) {
	st, err := r.evaluate(ctx, j, res)
	if err != nil {
		return st, err
	}
	if s, err := r.jobStack(ctx, j.ID); err != nil {
		r.log.Warn("finding a finished job's stack", "job", j.ID, "err", err)
	} else if s != nil {
		if err := r.deleteStack(ctx, s); err != nil {
			r.log.Warn("deleting a finished job's stack", "job", j.ID, "err", err)
		}
	}
	return st, nil
}

// jobEnded is a final status; the step a stopped job was running ends with it.
func jobEnded(state provisioner.JobState, reason string, steps []provisioner.StepResult) provisioner.JobStatus {
	plan.EndSteps(steps, state)
	return provisioner.JobStatus{State: state, Reason: reason, Steps: steps}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
