package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"provisioner"
	"provisioner/storetime"
)

const jobColumns = `id, kind, cluster, version, requested_by, state, reason, steps, log_key, instance,
	created_at, started_at, finished_at, deadline, revision, commit_id`

// PutJob writes j if the stored revision is j.Revision (0: the job must not
// exist yet) and returns the new revision, else ECONFLICT.
func (db *DB) PutJob(ctx context.Context, j provisioner.Job) (int64, error) {
	if j.ID == "" {
		return 0, provisioner.Errorf(provisioner.EINVALID, "job id is required")
	}
	if j.Revision < 0 {
		return 0, provisioner.Errorf(provisioner.EINVALID, "job revision must not be negative")
	}
	created, err := storetime.Format(j.CreatedAt)
	if err != nil {
		return 0, err
	}
	var opt [3]any
	for i, t := range []time.Time{j.StartedAt, j.FinishedAt, j.Deadline} {
		if opt[i], err = formatOptionalTime(t); err != nil {
			return 0, err
		}
	}
	steps := j.Steps
	if steps == nil {
		steps = []provisioner.StepResult{}
	}
	stepsJSON, err := json.Marshal(steps)
	if err != nil {
		return 0, provisioner.Wrap(provisioner.EINTERNAL, err, "encode job steps")
	}
	rev := j.Revision + 1
	args := []any{string(j.Kind), j.Cluster, j.Version, j.RequestedBy, string(j.State), j.Reason, string(stepsJSON),
		j.LogKey, j.Instance, created, opt[0], opt[1], opt[2], rev, j.Commit, j.ID}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if j.Revision == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO jobs (kind, cluster, version, requested_by, state, reason, steps,
				log_key, instance, created_at, started_at, finished_at, deadline, revision, commit_id, id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, args...)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET kind = ?, cluster = ?, version = ?, requested_by = ?,
				state = ?, reason = ?, steps = ?, log_key = ?, instance = ?, created_at = ?, started_at = ?,
				finished_at = ?, deadline = ?, revision = ?, commit_id = ? WHERE id = ? AND revision = ?`, append(args, j.Revision)...)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return provisioner.Errorf(provisioner.ECONFLICT, "job %q was changed by another request", j.ID)
		}
		return nil
	})
	if err != nil {
		return 0, storeError(ctx, err, "save job")
	}
	return rev, nil
}

// GetJob returns a job or ENOTFOUND.
func (db *DB) GetJob(ctx context.Context, id string) (provisioner.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %q not found", id)
	}
	if err != nil {
		return provisioner.Job{}, storeError(ctx, err, "read job")
	}
	return j, nil
}

// ListJobs returns jobs newest first, filtered by f.
func (db *DB) ListJobs(ctx context.Context, f provisioner.JobFilter) ([]provisioner.Job, error) {
	if f.Limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must not be negative")
	}
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	var where []string
	var args []any
	if f.Cluster != "" {
		where, args = append(where, "cluster = ?"), append(args, f.Cluster)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if f.Version != "" {
		where, args = append(where, "version = ?"), append(args, f.Version)
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return queryAll(ctx, db, "list jobs", scanJob, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
}

func scanJob(s scanner) (provisioner.Job, error) {
	var j provisioner.Job
	var kind, state, steps, created string
	var started, finished, deadline sql.NullString
	if err := s.Scan(&j.ID, &kind, &j.Cluster, &j.Version, &j.RequestedBy, &state, &j.Reason, &steps,
		&j.LogKey, &j.Instance, &created, &started, &finished, &deadline, &j.Revision, &j.Commit); err != nil {
		return j, err
	}
	j.Kind, j.State = provisioner.JobKind(kind), provisioner.JobState(state)
	if err := json.Unmarshal([]byte(steps), &j.Steps); err != nil {
		return j, provisioner.Wrap(provisioner.EINTERNAL, err, "stored job steps are malformed")
	}
	var err error
	if j.CreatedAt, err = storetime.Parse(created); err != nil {
		return j, err
	}
	for _, p := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&j.StartedAt, started}, {&j.FinishedAt, finished}, {&j.Deadline, deadline}} {
		if *p.dst, err = parseOptionalTime(p.src); err != nil {
			return j, err
		}
	}
	return j, nil
}
