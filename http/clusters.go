package http

import (
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// longResult answers a DEPLOY or DESTROY: 200 when done, 202 with the
// operation to wait for otherwise, the operation's error when it failed.
func longResult(r app.Result, err error) (any, error) {
	switch {
	case err != nil:
		return nil, err
	case r.Done && r.Operation.State == provisioner.OpFailure:
		return nil, provisioner.Errorf(r.Operation.ErrorCode, "%s", r.Operation.Message)
	case r.Done:
		return api.StatusOf(r.Cluster), nil
	}
	return reply{http.StatusAccepted, api.PendingOp{Status: "pending", Operation: r.Operation}}, nil
}

// minutes turns the Python client's TTL minutes into a duration; 0 stays 0
// (the default TTL) and a negative value is kept so the App refuses it.
func minutes(m int) time.Duration { return time.Duration(m) * time.Minute }

func (s *Server) deploy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.DeployRequest) (any, error) {
		if req.TTL < 0 {
			return nil, provisioner.Errorf(provisioner.EINVALID, "ttl must be a positive number of minutes")
		}
		return longResult(s.app.Deploy(r.Context(), c, app.DeployRequest{Cluster: req.Cluster, IsPublic: req.IsPublic,
			NodeCapacity: req.NodeCapacity, TTL: minutes(req.TTL), Version: req.Version, Team: req.Team}))
	})
}

func (s *Server) destroy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		return longResult(s.app.Destroy(r.Context(), c, req.Cluster))
	})
}

func (s *Server) extend() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ExtendRequest) (any, error) {
		if req.TTL <= 0 {
			return nil, provisioner.Errorf(provisioner.EINVALID, "ttl must be a positive number of minutes")
		}
		cl, err := s.app.Extend(r.Context(), c, req.Cluster, minutes(req.TTL))
		if err != nil {
			return nil, err
		}
		return api.StatusOf(cl), nil
	})
}

func (s *Server) scheduleDestroy() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ScheduleRequest) (any, error) {
		at, err := time.Parse(time.RFC3339, req.Time)
		if err != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "time must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		cl, err := s.app.ScheduleDestroy(r.Context(), c, req.Cluster, at)
		if err != nil {
			return nil, err
		}
		return api.StatusOf(cl), nil
	})
}

func (s *Server) status() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		cl, err := s.app.Status(r.Context(), c, req.Cluster)
		if err != nil {
			return nil, err
		}
		return api.StatusOf(cl), nil
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
