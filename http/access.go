package http

import (
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

func (s *Server) access() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		a, err := s.app.Access(r.Context(), c, req.Cluster)
		if err != nil {
			return nil, err
		}
		return api.Access{Status: "success", Token: a.Token, ExpiresAt: a.Claims.ExpiresAt.UTC()}, nil
	})
}

// listClusters is GET /clusters: our list, every field of STATUS.
func (s *Server) listClusters() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		list, err := s.app.ListClusters(r.Context(), c)
		if err != nil {
			return nil, err
		}
		out := api.Clusters{Status: "success", Clusters: make([]api.Status, 0, len(list))}
		for _, cl := range list {
			out.Clusters = append(out.Clusters, s.statusOf(cl))
		}
		return out, nil
	})
}

// reportClusters is production's POST /report/clusters and
// /report/clusters/{cluster}: a map from cluster name to its report, of
// the clusters that exist and the caller may reach (empty when none).
func (s *Server) reportClusters() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, _ map[string]any) (any, error) {
		only := r.PathValue("cluster")
		if only != "" {
			if err := provisioner.ValidateClusterName(only); err != nil {
				return nil, err
			}
		}
		list, err := s.app.ListClusters(r.Context(), c)
		if err != nil {
			return nil, err
		}
		groups, err := s.app.NodeGroups(r.Context(), c, only)
		if err != nil {
			return nil, err
		}
		out := map[string]api.ClusterReport{}
		for _, cl := range list {
			if cl.State != provisioner.StateAbsent && (only == "" || cl.Name == only) {
				out[cl.Name] = api.ReportOf(cl)
			}
		}
		// Production's users: each group's auto_shutdown and current_nodes.
		for _, g := range groups {
			if rep, ok := out[g.Cluster]; ok {
				rep.Users[g.User] = api.UserReportOf(g)
			}
		}
		return out, nil
	})
}

// info is production's POST /info, the caller's UserInfo.
func (s *Server) info() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, _ map[string]any) (any, error) {
		in, err := s.app.Info(r.Context(), c)
		if err != nil {
			return nil, err
		}
		return api.Info{Username: in.Username, OrgRoles: in.OrgRoles, KnownClusters: in.KnownClusters,
			DeployableClusters: in.DeployableClusters, MaxNodes: in.MaxNodes, MaxTTL: int(in.MaxTTL / time.Minute)}, nil
	})
}

func (s *Server) registerCluster() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.RegisterRequest) (any, error) {
		if req.IsPublic == nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "is_public is required (true or false)")
		}
		cl, err := s.app.RegisterCluster(r.Context(), c, req.Cluster, *req.IsPublic)
		if err != nil {
			return nil, err
		}
		return s.statusOf(cl), nil
	})
}

func (s *Server) unregisterCluster() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.ClusterRequest) (any, error) {
		if err := s.app.UnregisterCluster(r.Context(), c, req.Cluster); err != nil {
			return nil, err
		}
		return map[string]string{"status": "success", "cluster": req.Cluster}, nil
	})
}

func (s *Server) auditList() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		f, err := auditFilter(r)
		if err != nil {
			return nil, err
		}
		entries, err := s.app.Audit(r.Context(), c, f)
		if err != nil {
			return nil, err
		}
		if entries == nil {
			entries = []provisioner.AuditEntry{}
		}
		return api.Audit{Status: "success", Entries: entries}, nil
	})
}

func auditFilter(r *http.Request) (provisioner.AuditFilter, error) {
	q := r.URL.Query()
	f := provisioner.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, provisioner.Errorf(provisioner.EINVALID, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		f.Since = t
	}
	var err error
	f.Limit, err = limitParam(r)
	return f, err
}

func (s *Server) auditExport() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, req api.AuditExportRequest) (any, error) {
		since, err := time.Parse(time.RFC3339, req.Since)
		if err != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		key, n, err := s.app.ExportAudit(r.Context(), c, since)
		if err != nil {
			return nil, err
		}
		return api.AuditExport{Status: "success", Key: key, Entries: n}, nil
	})
}
