// Command fakegithub is a fixed GitHub API for side-by-side login
// benchmarks: the PAT "pat-bob" is bob, an active member of the
// organization sliderule-test in no team. It answers what production's
// login handler asks (GET /user, /orgs/ORG/memberships/LOGIN,
// /user/teams) and what this provisioner asks (GET /user,
// /user/memberships/orgs/ORG); any other token is 401.
//
//	go run ./scripts/fakegithub -addr 127.0.0.1:18090
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
)

const (
	pat   = "pat-bob"
	login = "bob"
	org   = "sliderule-test"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("fakegithub: %s is not a loopback address", *addr)
	}
	answers := map[string]string{
		"/user":                                  `{"login":"` + login + `","id":4242,"type":"User"}`,
		"/orgs/" + org + "/memberships/" + login: `{"state":"active","role":"member","organization":{"login":"` + org + `"}}`,
		"/user/memberships/orgs/" + org:          `{"state":"active","role":"member","organization":{"login":"` + org + `"}}`,
		"/user/teams":                            `[]`,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(auth, "token "); !ok || tok != pat {
			if tok, ok = strings.CutPrefix(auth, "Bearer "); !ok || tok != pat {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"message":"Bad credentials"}`)
				return
			}
		}
		body, ok := answers[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		if !ok || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
			return
		}
		fmt.Fprint(w, body)
	})
	log.Printf("fakegithub on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, h))
}
