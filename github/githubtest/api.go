package githubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// AddUser makes token a valid token of the user login with numeric id.
// A user may have several tokens.
func (s *Server) AddUser(token, login string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := strings.ToLower(login)
	s.users[l] = fakeUser{login: login, id: id}
	s.tokens[token] = l
}

// RevokeToken makes token invalid: GitHub answers 401 Bad credentials.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetOrgMembership sets login's membership of org: state "active" or
// "pending", role "member" or "admin". An empty state removes it.
func (s *Server) SetOrgMembership(login, org, state, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := strings.ToLower(org)
	if state == "" {
		delete(s.orgs[o], strings.ToLower(login))
		return
	}
	if s.orgs[o] == nil {
		s.orgs[o] = make(map[string]membership)
	}
	s.orgs[o][strings.ToLower(login)] = membership{state: state, role: role}
}

// AddTeamMember makes login an active member of the team slug of org.
func (s *Server) AddTeamMember(org, team, login string) {
	s.SetTeamMembership(org, team, login, "active")
}

// SetTeamMembership sets login's membership state of a team ("active",
// "pending"); an empty state removes it.
func (s *Server) SetTeamMembership(org, team, login, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(org + "/" + team)
	if state == "" {
		delete(s.teams[k], strings.ToLower(login))
		return
	}
	if s.teams[k] == nil {
		s.teams[k] = make(map[string]string)
	}
	s.teams[k][strings.ToLower(login)] = state
}

// AddSSHKey publishes an ssh public key ("ssh-ed25519 AAAA...") for login
// at GET /users/{login}/keys.
func (s *Server) AddSSHKey(login, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sshKeys == nil {
		s.sshKeys = map[string][]string{}
	}
	l := strings.ToLower(login)
	s.sshKeys[l] = append(s.sshKeys[l], key)
}

// serveKeys answers GET /users/{login}/keys: the user's public keys, or 404
// for an unknown user.
func (s *Server) serveKeys(w http.ResponseWriter, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := strings.ToLower(login)
	known := s.sshKeys[l] != nil
	for _, u := range s.users {
		known = known || strings.ToLower(u.login) == l
	}
	if !known {
		notFound(w)
		return
	}
	out := []map[string]any{}
	for i, k := range s.sshKeys[l] {
		out = append(out, map[string]any{"id": i + 1, "key": k})
	}
	writeJSON(w, http.StatusOK, out)
}

// serveAPI answers the REST paths, path already stripped of /api/v3.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	if r.Method != http.MethodGet {
		notFound(w)
		return
	}
	if seg := strings.Split(strings.Trim(path, "/"), "/"); len(seg) == 3 && seg[0] == "users" && seg[2] == "keys" {
		s.serveKeys(w, seg[1]) // public: no token needed
		return
	}
	u, ok := s.authenticate(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"message":           "Bad credentials",
			"documentation_url": "https://docs.github.com/rest",
		})
		return
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(seg) == 1 && seg[0] == "user":
		writeJSON(w, http.StatusOK, map[string]any{"login": u.login, "id": u.id, "type": "User"})
	case len(seg) == 4 && seg[0] == "user" && seg[1] == "memberships" && seg[2] == "orgs":
		s.writeMembership(w, seg[3], u.login, map[string]any{"login": u.login, "id": u.id})
	case len(seg) == 4 && seg[0] == "orgs" && seg[2] == "memberships":
		// Another user's membership, as an organization member's token sees it.
		if m, ok := s.orgs[strings.ToLower(seg[1])][strings.ToLower(u.login)]; !ok || m.state != "active" {
			notFound(w)
			return
		}
		s.writeMembership(w, seg[1], seg[3], map[string]any{"login": seg[3]})
	case len(seg) == 6 && seg[0] == "orgs" && seg[2] == "teams" && seg[4] == "memberships":
		state, ok := s.teams[strings.ToLower(seg[1]+"/"+seg[3])][strings.ToLower(seg[5])]
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"state": state, "role": "member"})
	default:
		notFound(w)
	}
}

// authenticate accepts "Bearer T" and "token T", as GitHub does.
func (s *Server) authenticate(r *http.Request) (fakeUser, bool) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "token ")
	}
	if !ok {
		return fakeUser{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	login, ok := s.tokens[tok]
	if !ok {
		return fakeUser{}, false
	}
	u, ok := s.users[login]
	return u, ok
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{
		"message":           "Not Found",
		"documentation_url": "https://docs.github.com/rest",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeMembership answers login's membership of org, as GitHub shows user
// in it, or 404 when there is none. The caller holds s.mu.
func (s *Server) writeMembership(w http.ResponseWriter, org, login string, user map[string]any) {
	m, ok := s.orgs[strings.ToLower(org)][strings.ToLower(login)]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"state": m.state, "role": m.role,
		"organization": map[string]any{"login": org},
		"user":         user,
	})
}
