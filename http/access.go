package http

import (
	"net/http"
	"strconv"
	"time"

	"provisioner"
)

type clusterRequest struct {
	Cluster string `json:"cluster"`
}

type accessResponse struct {
	Status    string    `json:"status"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) access(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req clusterRequest
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.app.Access(r.Context(), c, req.Cluster)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, accessResponse{Status: "success", Token: a.Token, ExpiresAt: a.Claims.ExpiresAt.UTC()})
}

type clusterInfo struct {
	Cluster   string    `json:"cluster"`
	IsPublic  bool      `json:"is_public"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func info(c provisioner.Cluster) clusterInfo {
	return clusterInfo{Cluster: c.Name, IsPublic: c.IsPublic, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC()}
}

func (s *Server) reportClusters(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req struct{}
	if err := s.decode(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.app.ListClusters(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]clusterInfo, 0, len(list))
	for _, cl := range list {
		out = append(out, info(cl))
	}
	writeJSON(w, http.StatusOK, struct {
		Status   string        `json:"status"`
		Clusters []clusterInfo `json:"clusters"`
	}{"success", out})
}

func (s *Server) registerCluster(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req struct {
		Cluster  string `json:"cluster"`
		IsPublic *bool  `json:"is_public"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.IsPublic == nil {
		s.fail(w, r, provisioner.Errorf(provisioner.EINVALID, "is_public is required (true or false)"))
		return
	}
	cl, err := s.app.RegisterCluster(r.Context(), c, req.Cluster, *req.IsPublic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		clusterInfo
	}{"success", info(cl)})
}

func (s *Server) unregisterCluster(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req clusterRequest
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.app.UnregisterCluster(r.Context(), c, req.Cluster); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success", "cluster": req.Cluster})
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := provisioner.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.fail(w, r, provisioner.Errorf(provisioner.EINVALID, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z"))
			return
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, r, provisioner.Errorf(provisioner.EINVALID, "limit must be a positive integer"))
			return
		}
		f.Limit = n
	}
	entries, err := s.app.Audit(r.Context(), c, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if entries == nil {
		entries = []provisioner.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, struct {
		Status  string                   `json:"status"`
		Entries []provisioner.AuditEntry `json:"entries"`
	}{"success", entries})
}
