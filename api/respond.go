package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// WriteJSON answers v with status. Answers are not cached unless the
// handler set a Cache-Control of its own.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers the one error shape, as the provisioner's API and the
// cluster gateway both do: with Retry-After in whole seconds, rounded up,
// when retry is set, and a Bearer challenge naming realm on a 401.
func WriteError(w http.ResponseWriter, status int, code, msg string, retry time.Duration, realm string) {
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	}
	WriteJSON(w, status, Error{Status: "failure", Error: code, Description: msg})
}
