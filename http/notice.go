package http

import (
	"provisioner"
	"provisioner/api"
)

// statusOf is a cluster's STATUS with the time of its next notice, which
// only the App knows (it depends on the notice lead times).
func (s *Server) statusOf(cl provisioner.Cluster) api.Status {
	st := api.StatusOf(cl)
	st.NextNotice = s.app.NextNotice(cl)
	return st
}
