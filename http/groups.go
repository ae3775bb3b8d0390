package http

import (
	"net/http"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// The user node group paths, production's /{deploy,extend,destroy,status,
// events}/{username}: the caller's own group on a cluster ("sliderule", the
// released client's default, is the public cluster here only).

func groupResult(r app.GroupResult, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return longAnswer(r.Done, r.Operation, api.GroupStatusOf(r.Group), nil)
}

// groupStatusAnswer answers a node group's status, or err.
func groupStatusAnswer(g provisioner.NodeGroup, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return api.GroupStatusOf(g), nil
}

func (s *Server) deployGroup() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.DeployRequest) (any, error) {
		d, err := ttl(req.TTL, true)
		if err != nil {
			return nil, err
		}
		// is_public and version are the cluster's: a group takes them from it.
		gr := app.GroupRequest{Cluster: req.Cluster, User: r.PathValue("username"), NodeCapacity: req.NodeCapacity, TTL: d}
		if req.DryRun {
			return planAnswer(s.app.PlanGroup(r.Context(), c, gr))
		}
		res, err := s.app.DeployGroup(r.Context(), c, gr)
		if err != nil {
			return nil, err
		}
		est := s.app.GroupEstimate(r.Context(), res.Group)
		st := api.GroupStatusOf(res.Group)
		st.EstimatedCost, st.Budget = est, budgetNote(res.Budget)
		return pendingNote(longAnswer(res.Done, res.Operation, st, est))(st.Budget)
	})
}

func (s *Server) extendGroup() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ExtendRequest) (any, error) {
		d, err := ttl(req.TTL, false)
		if err != nil {
			return nil, err
		}
		res, err := s.app.ExtendGroup(r.Context(), c, req.Cluster, r.PathValue("username"), d)
		if err != nil {
			return nil, err
		}
		st := api.GroupStatusOf(res.Group)
		st.EstimatedCost, st.Budget = s.app.GroupEstimate(r.Context(), res.Group), budgetNote(res.Budget)
		return st, nil
	})
}

func (s *Server) destroyGroup() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		return groupResult(s.app.DestroyGroup(r.Context(), c, req.Cluster, r.PathValue("username")))
	})
}

func (s *Server) groupStatus() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		return groupStatusAnswer(s.app.GroupStatus(r.Context(), c, req.Cluster, r.PathValue("username")))
	})
}

func (s *Server) groupEvents() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		user := r.PathValue("username")
		cluster, evs, err := s.app.GroupEvents(r.Context(), c, req.Cluster, user)
		if err != nil {
			return nil, err
		}
		if evs == nil {
			evs = []provisioner.Event{}
		}
		return api.GroupEvents{Status: "success", Cluster: cluster, User: user, Events: evs}, nil
	})
}
