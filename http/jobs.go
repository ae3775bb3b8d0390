package http

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// startJob is TEST and RELEASE. TEST takes no body, {branch} (production's
// workflows and CLI) or {cluster, version}; the defaults are the App's.
func (s *Server) startJob(kind provisioner.JobKind) http.HandlerFunc {
	return endpoint(s, true, kind == provisioner.JobTest, func(r *http.Request, c app.Caller, req api.JobRequest) (any, error) {
		var j provisioner.Job
		var err error
		if kind == provisioner.JobTest {
			j, err = s.app.StartTest(r.Context(), c, app.TestRequest{Cluster: req.Cluster, Version: req.Version, Branch: req.Branch})
		} else if req.Branch != "" {
			err = provisioner.Errorf(provisioner.EINVALID, "RELEASE takes a version, not a branch")
		} else {
			j, err = s.app.StartJob(r.Context(), c, kind, req.Cluster, req.Version)
		}
		if err != nil {
			return nil, err
		}
		return reply{http.StatusAccepted, api.JobStarted{Status: "pending", Operation: j.ID, Job: j}}, nil
	})
}

func (s *Server) job() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		wait, err := waitParam(r)
		if err != nil {
			return nil, err
		}
		j, err := s.app.Job(r.Context(), c, r.PathValue("id"), wait)
		if err != nil {
			return nil, err
		}
		return api.JobResult{Status: "success", Job: j}, nil
	})
}

func (s *Server) cancelJob() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, _ none) (any, error) {
		j, err := s.app.CancelJob(r.Context(), c, r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return api.JobResult{Status: "success", Job: j}, nil
	})
}

func (s *Server) listJobs() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		q := r.URL.Query()
		limit, err := limitParam(r)
		if err != nil {
			return nil, err
		}
		f := provisioner.JobFilter{Cluster: q.Get("cluster"), State: provisioner.JobState(q.Get("state")), Limit: limit}
		js, err := s.app.ListJobs(r.Context(), c, f)
		if err != nil {
			return nil, err
		}
		if js == nil {
			js = []provisioner.Job{}
		}
		return api.Jobs{Status: "success", Jobs: js}, nil
	})
}

// limitParam reads ?limit=N; 0 when absent.
func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, provisioner.Errorf(provisioner.EINVALID, "limit must be a positive integer")
	}
	return n, nil
}

// waitParam reads ?wait=25s.
func waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, provisioner.Errorf(provisioner.EINVALID, "wait must be a duration such as 25s")
	}
	return d, nil
}

// maxFollow bounds one following log request; the client reconnects with
// ?offset= to go on, so API Gateway's 30 s limit is never hit.
const maxFollow = 25 * time.Second

// jobLog streams a job's log as text. With ?follow=1 it keeps the
// connection open while the job runs, sending what is appended, up to
// maxFollow; ?offset=N skips what the client already has.
func (s *Server) jobLog(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	offset, follow := int64(0), q.Get("follow") == "1" || q.Get("follow") == "true"
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			s.fail(w, r, provisioner.Errorf(provisioner.EINVALID, "offset must be a byte count"))
			return
		}
	}
	id := r.PathValue("id")
	started, deadline := false, time.Now().Add(maxFollow)
	for {
		j, rc, err := s.app.JobLog(r.Context(), c, id, offset)
		if provisioner.ErrorCode(err) == provisioner.ENOTFOUND && j.ID != "" && !j.State.Final() {
			err, rc = nil, io.NopCloser(emptyReader{}) // no log yet: the machine is starting
		}
		if err != nil {
			if !started {
				s.fail(w, r, err)
			}
			return
		}
		if !started {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Job-State", string(j.State))
			w.WriteHeader(http.StatusOK)
			started = true
		}
		n, _ := io.Copy(w, rc)
		rc.Close()
		offset += n
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if !follow || j.State.Final() || time.Now().After(deadline) || r.Context().Err() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-app.Draining(r.Context()):
			return // the client follows on with ?offset=
		case <-time.After(time.Second):
		}
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// testReport is production's POST /report/tests: the latest finished TEST of
// a branch, with its steps and where its log is.
func (s *Server) testReport() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, req api.TestReportRequest) (any, error) {
		rep, err := s.app.LatestTest(r.Context(), c, req.Branch)
		if err != nil {
			return nil, err
		}
		j := rep.Job
		steps := j.Steps
		if steps == nil {
			steps = []provisioner.StepResult{}
		}
		return api.TestReport{Status: j.State == provisioner.JobPassed, Date: j.FinishedAt.UTC(), Branch: rep.Branch,
			Result: j.State, Reason: j.Reason, Job: j.ID, Cluster: j.Cluster, Steps: steps,
			Log: s.issuer + "/jobs/" + j.ID + "/log"}, nil
	})
}

// testHistory is GET /report/tests?branch=main&limit=20: the branch's last
// finished TESTs, newest first, with flaky and failing tests flagged.
func (s *Server) testHistory() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		limit, err := limitParam(r)
		if err != nil {
			return nil, err
		}
		h, err := s.app.TestHistory(r.Context(), c, r.URL.Query().Get("branch"), limit)
		if err != nil {
			return nil, err
		}
		out := api.TestHistory{Status: "success", Branch: h.Branch, Runs: make([]api.TestRun, 0, len(h.Runs)),
			Flaky: flags(h.Flaky), Failing: flags(h.Failing)}
		for _, j := range h.Runs {
			steps := j.Steps
			if steps == nil {
				steps = []provisioner.StepResult{}
			}
			out.Runs = append(out.Runs, api.TestRun{Job: j.ID, Date: app.RunDate(j).UTC(), Version: j.Version, Commit: j.Commit,
				Result: j.State, Reason: j.Reason, Steps: steps})
		}
		return out, nil
	})
}

func flags(fs []app.TestFlag) []api.TestFlag {
	out := make([]api.TestFlag, len(fs))
	for i, f := range fs {
		out[i] = api.TestFlag(f)
	}
	return out
}
