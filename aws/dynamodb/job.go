package dynamodb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

const (
	jobPrefix       = "JOB#"
	jobSK           = "JOB"
	jobsIndexPK     = "JOBS"
	attrRequestedBy = "requested_by"
	attrSteps       = "steps" // JSON of []StepResult, read and written whole
	attrLogKey      = "log_key"
	attrInstance    = "instance"
	attrStartedAt   = "started_at"
	attrFinishedAt  = "finished_at"
	attrCommit      = "commit"
)

// PutJob writes j if the stored revision is j.Revision (0: the job must not
// exist yet) and returns the new revision, else ECONFLICT. Jobs are never
// deleted and never expire.
func (s *Store) PutJob(ctx context.Context, j provisioner.Job) (int64, error) {
	switch {
	case j.ID == "":
		return 0, provisioner.Errorf(provisioner.EINVALID, "job id is required")
	case len(j.ID) > maxKeyPart/2:
		return 0, provisioner.Errorf(provisioner.EINVALID, "job id is too long")
	case j.Revision < 0:
		return 0, provisioner.Errorf(provisioner.EINVALID, "job revision must not be negative")
	}
	it, err := jobItem(j)
	if err != nil {
		return 0, err
	}
	if err := checkContext(ctx, "save job"); err != nil {
		return 0, err
	}
	tok, rev := writeToken(), s.nextRevision(j.Revision)
	it.setNum(attrWriteTok, tok)
	it.setNum(attrRevision, rev)
	in := &ddb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if j.Revision != 0 {
		in.ConditionExpression = aws.String("#rev = :old")
		in.ExpressionAttributeNames = map[string]string{"#rev": attrRevision}
		in.ExpressionAttributeValues = item{":old": numAV(j.Revision)}
	}
	_, err = s.db.PutItem(ctx, in)
	if err == nil {
		return rev, nil
	}
	old, failed := conditionFailed(err)
	switch {
	case !failed:
		return 0, storeError(ctx, err, "save job")
	case ownWrite(old, tok): // an SDK retry of a write that landed
		return old.num(attrRevision)
	case j.Revision == 0:
		return 0, provisioner.Wrap(provisioner.ECONFLICT, err, "job %q already exists", j.ID)
	default:
		return 0, provisioner.Wrap(provisioner.ECONFLICT, err, "job %q was changed by another request", j.ID)
	}
}

// GetJob returns a job or ENOTFOUND; the read is strongly consistent.
func (s *Store) GetJob(ctx context.Context, id string) (provisioner.Job, error) {
	if err := checkContext(ctx, "read job"); err != nil {
		return provisioner.Job{}, err
	}
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "job %q not found", id)
	if id == "" || len(id) > maxKeyPart {
		return provisioner.Job{}, notFound
	}
	out, err := s.db.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(jobPrefix+id, jobSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return provisioner.Job{}, storeError(ctx, err, "read job")
	}
	if out.Item == nil {
		return provisioner.Job{}, notFound
	}
	return decodeJob(out.Item)
}

// ListJobs returns jobs newest first (by CreatedAt, then ID), filtered by
// f, from the index gsi1. Index reads are eventually consistent: a job
// written a moment ago may be missing or show its previous state.
func (s *Store) ListJobs(ctx context.Context, f provisioner.JobFilter) ([]provisioner.Job, error) {
	if f.Limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = defaultLimit
	}
	if err := checkContext(ctx, "list jobs"); err != nil {
		return nil, err
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexName),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: item{":pk": strAV(jobsIndexPK)},
		ScanIndexForward:          aws.Bool(false),
	}
	filterEqual(in, map[string]string{attrCluster: f.Cluster, attrState: string(f.State), attrKind: string(f.Kind),
		attrVersion: f.Version})
	return queryAll(ctx, s, in, f.Limit, "list jobs", decodeJob)
}

func jobItem(j provisioner.Job) (item, error) {
	steps := j.Steps
	if steps == nil {
		steps = []provisioner.StepResult{}
	}
	stepsJSON, err := json.Marshal(steps)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "encode job steps")
	}
	listKey, err := timeKey(j.CreatedAt, j.ID)
	if err != nil {
		return nil, err
	}
	it := key(jobPrefix+j.ID, jobSK)
	it.setStr(attrGSI1PK, jobsIndexPK)
	it.setStr(attrGSI1SK, listKey)
	it.setStr(attrID, j.ID)
	it.setStr(attrKind, string(j.Kind))
	it.setStr(attrCluster, j.Cluster)
	it.setStr(attrVersion, j.Version)
	it.setStr(attrRequestedBy, j.RequestedBy)
	it.setStr(attrState, string(j.State))
	it.setStr(attrReason, j.Reason)
	it.setStr(attrSteps, string(stepsJSON))
	it.setStr(attrLogKey, j.LogKey)
	it.setStr(attrInstance, j.Instance)
	if j.Commit != "" {
		it.setStr(attrCommit, j.Commit)
	}
	return it, it.setTimes([]timeAttr{{attrCreatedAt, j.CreatedAt}, {attrStartedAt, j.StartedAt},
		{attrFinishedAt, j.FinishedAt}, {attrDeadline, j.Deadline}})
}

func decodeJob(it item) (provisioner.Job, error) {
	d := decoder{it: it}
	j := provisioner.Job{
		ID:          d.str(attrID),
		Kind:        provisioner.JobKind(d.str(attrKind)),
		Cluster:     d.str(attrCluster),
		Version:     d.str(attrVersion),
		RequestedBy: d.str(attrRequestedBy),
		State:       provisioner.JobState(d.str(attrState)),
		Reason:      d.str(attrReason),
		LogKey:      d.str(attrLogKey),
		Instance:    d.str(attrInstance),
		Commit:      d.str(attrCommit),
		CreatedAt:   d.time(attrCreatedAt),
		StartedAt:   d.time(attrStartedAt),
		FinishedAt:  d.time(attrFinishedAt),
		Deadline:    d.time(attrDeadline),
		Revision:    d.num(attrRevision),
	}
	steps := d.str(attrSteps)
	if d.err != nil {
		return provisioner.Job{}, d.err
	}
	if steps != "" {
		if err := json.Unmarshal([]byte(steps), &j.Steps); err != nil {
			return provisioner.Job{}, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("job %s: %w", j.ID, err), "stored job steps are malformed")
		}
	}
	return j, nil
}
