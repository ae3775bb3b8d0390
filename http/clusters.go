package http

import (
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// longAnswer answers a DEPLOY or DESTROY of a cluster or a node group:
// status when done, 202 with the operation to wait for otherwise (and the
// estimate of a deployment, est), the operation's error when it failed.
func longAnswer(done bool, op provisioner.Operation, status any, est *provisioner.Estimate) (any, error) {
	switch {
	case done && op.State == provisioner.OpFailure:
		return nil, provisioner.Errorf(op.ErrorCode, "%s", op.Message)
	case done:
		return status, nil
	}
	return reply{http.StatusAccepted, api.PendingOp{Status: "pending", Operation: op, EstimatedCost: est}}, nil
}

func (s *Server) longResult(r app.Result, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return longAnswer(r.Done, r.Operation, s.statusOf(r.Cluster), nil)
}

// statusAnswer answers a cluster's status, or err.
func (s *Server) statusAnswer(cl provisioner.Cluster, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return s.statusOf(cl), nil
}

// ttl turns the Python client's TTL minutes into a duration. Negative
// values are refused, and 0 too unless zeroOK (DEPLOY: the default TTL).
func ttl(minutes int, zeroOK bool) (time.Duration, error) {
	if minutes < 0 || minutes == 0 && !zeroOK {
		return 0, provisioner.Errorf(provisioner.EINVALID, "ttl must be a positive number of minutes")
	}
	return time.Duration(minutes) * time.Minute, nil
}

func (s *Server) deploy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.DeployRequest) (any, error) {
		d, err := ttl(req.TTL, true)
		if err != nil {
			return nil, err
		}
		dr := app.DeployRequest{Cluster: req.Cluster, IsPublic: req.IsPublic, NodeCapacity: req.NodeCapacity, TTL: d, Version: req.Version, Team: req.Team}
		if req.DryRun {
			return planAnswer(s.app.PlanDeploy(r.Context(), c, dr))
		}
		res, err := s.app.Deploy(r.Context(), c, dr)
		if err != nil {
			return nil, err
		}
		est := s.app.ClusterEstimate(r.Context(), res.Cluster)
		st := s.statusOf(res.Cluster)
		st.EstimatedCost, st.Budget = est, budgetNote(res.Budget)
		return pendingNote(longAnswer(res.Done, res.Operation, st, est))(st.Budget)
	})
}

func (s *Server) destroy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		return s.longResult(s.app.Destroy(r.Context(), c, req.Cluster))
	})
}

func (s *Server) extend() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ExtendRequest) (any, error) {
		d, err := ttl(req.TTL, false)
		if err != nil {
			return nil, err
		}
		res, err := s.app.ExtendBudgeted(r.Context(), c, req.Cluster, d)
		if err != nil {
			return nil, err
		}
		st := s.statusOf(res.Cluster)
		st.EstimatedCost, st.Budget = s.app.ClusterEstimate(r.Context(), res.Cluster), budgetNote(res.Budget)
		return st, nil
	})
}

func (s *Server) scheduleDestroy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ScheduleRequest) (any, error) {
		at, err := time.Parse(time.RFC3339, req.Time)
		if err != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "time must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		res, err := s.app.ScheduleDestroyBudgeted(r.Context(), c, req.Cluster, at)
		if err != nil {
			return nil, err
		}
		st := s.statusOf(res.Cluster)
		st.Budget = budgetNote(res.Budget)
		return st, nil
	})
}

func (s *Server) status() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		return s.statusAnswer(s.app.Status(r.Context(), c, req.Cluster))
	})
}

func (s *Server) events() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		evs, err := s.app.Events(r.Context(), c, req.Cluster, 0)
		if err != nil {
			return nil, err
		}
		if evs == nil {
			evs = []provisioner.Event{}
		}
		return api.Events{Status: "success", Cluster: req.Cluster, Events: evs}, nil
	})
}

func (s *Server) operation() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		wait, err := waitParam(r)
		if err != nil {
			return nil, err
		}
		op, err := s.app.Operation(r.Context(), c, r.PathValue("id"), wait)
		if err != nil {
			return nil, err
		}
		out := api.OperationResult{Status: string(op.State), Operation: op}
		if op.State == provisioner.OpFailure {
			out.Error, out.Description = op.ErrorCode, op.Message
		}
		if !op.Done() {
			return reply{http.StatusAccepted, out}, nil
		}
		return out, nil
	})
}
