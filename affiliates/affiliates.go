// Package affiliates reads the operator's affiliates file: production
// SlideRule's affiliates.json, a JSON object of GitHub login to
//
//	{"active": true, "clusters": ["name", ...], "max_nodes": 4,
//	 "max_ttl": 720, "allowed_scopes": ["sliderule:access", ...]}
//
// with max_ttl in minutes, as production's. Only active entries grant
// anything; every entry is validated, so a typo never passes silently.
package affiliates

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// List is a parsed affiliates file: the active affiliates by lowercased
// login (GitHub logins compare case-insensitively).
type List map[string]provisioner.Affiliation

// Affiliation returns login's active affiliation, or nil.
func (l List) Affiliation(login string) *provisioner.Affiliation {
	a, ok := l[strings.ToLower(login)]
	if !ok {
		return nil
	}
	a.Clusters = slices.Clone(a.Clusters)
	a.AllowedScopes = slices.Clone(a.AllowedScopes)
	return &a
}

// entry is one login's record, production's fields. Pointers tell a
// missing field from a zero one.
type entry struct {
	Active        *bool    `json:"active"`
	Clusters      []string `json:"clusters"`
	MaxNodes      *int     `json:"max_nodes"`
	MaxTTL        *int     `json:"max_ttl"`
	AllowedScopes []string `json:"allowed_scopes"`
}

// GitHub's login syntax: alphanumerics and single inner hyphens, at most 39.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)

// Parse reads and validates an affiliates file: a JSON object of entries
// with exactly production's fields (active, clusters, max_nodes, max_ttl,
// allowed_scopes; unknown fields are refused), every cluster a valid
// cluster name, the limits positive and the scopes production's. An empty
// object is a valid empty list.
func Parse(data []byte) (List, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of login to affiliation: %v", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("not a JSON object of login to affiliation (null)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	logins := make([]string, 0, len(raw))
	for login := range raw {
		logins = append(logins, login)
	}
	sort.Strings(logins)
	out := List{}
	seen := map[string]string{}
	for _, login := range logins {
		if !loginRE.MatchString(login) {
			return nil, fmt.Errorf("%q is not a GitHub login", login)
		}
		key := strings.ToLower(login)
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("%q and %q are the same GitHub login", other, login)
		}
		seen[key] = login
		a, active, err := parseEntry(raw[login])
		if err != nil {
			return nil, fmt.Errorf("affiliate %s: %v", login, err)
		}
		if active {
			out[key] = a
		}
	}
	return out, nil
}

func parseEntry(data json.RawMessage) (provisioner.Affiliation, bool, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return provisioner.Affiliation{}, false, fmt.Errorf("want an object of active, clusters, max_nodes, max_ttl, allowed_scopes: %v", err)
	}
	switch {
	case e.Active == nil:
		return provisioner.Affiliation{}, false, fmt.Errorf("active is required (true or false)")
	case len(e.Clusters) == 0:
		return provisioner.Affiliation{}, false, fmt.Errorf("clusters is required: the clusters granted")
	case e.MaxNodes == nil || *e.MaxNodes < 1:
		return provisioner.Affiliation{}, false, fmt.Errorf("max_nodes must be a positive number of nodes")
	case e.MaxTTL == nil || *e.MaxTTL < 1:
		return provisioner.Affiliation{}, false, fmt.Errorf("max_ttl must be a positive number of minutes")
	case *e.MaxTTL > int(365*24*time.Hour/time.Minute):
		return provisioner.Affiliation{}, false, fmt.Errorf("max_ttl %d minutes is more than a year", *e.MaxTTL)
	case e.AllowedScopes == nil:
		return provisioner.Affiliation{}, false, fmt.Errorf("allowed_scopes is required (production's scopes: %s)", strings.Join(provisioner.Scopes, ", "))
	}
	for i, c := range e.Clusters {
		if err := provisioner.ValidateClusterName(c); err != nil {
			return provisioner.Affiliation{}, false, fmt.Errorf("clusters: %s", provisioner.ErrorMessage(err))
		}
		if slices.Contains(e.Clusters[:i], c) {
			return provisioner.Affiliation{}, false, fmt.Errorf("clusters: %s is listed twice", c)
		}
	}
	for i, s := range e.AllowedScopes {
		if !slices.Contains(provisioner.Scopes, s) {
			return provisioner.Affiliation{}, false, fmt.Errorf("allowed_scopes: unknown scope %q (production's scopes: %s)", s, strings.Join(provisioner.Scopes, ", "))
		}
		if slices.Contains(e.AllowedScopes[:i], s) {
			return provisioner.Affiliation{}, false, fmt.Errorf("allowed_scopes: %s is listed twice", s)
		}
	}
	return provisioner.Affiliation{Clusters: e.Clusters, MaxNodes: *e.MaxNodes,
		MaxTTL: time.Duration(*e.MaxTTL) * time.Minute, AllowedScopes: e.AllowedScopes}, *e.Active, nil
}

// Loader fetches the file. It returns the data and a stamp that changes
// when the file does (a modification time and size, an ETag); given the
// stamp it returned last, it may answer unchanged with nil data and the
// same stamp, sparing the parse.
type Loader func(ctx context.Context, stamp string) (data []byte, newStamp string, err error)

// Source is the operator's list, read by a Loader at most once per Every.
// A read that fails, or a file that does not parse, keeps the last good
// list; the reason is logged once per distinct error.
type Source struct {
	load   Loader
	every  time.Duration
	what   string
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	next   time.Time
	stamp  string
	list   List
	good   bool
	lastEr string
}

// Options tune a Source.
type Options struct {
	Every  time.Duration    // how often the file is looked at (default 1s)
	Logger *slog.Logger     // where bad reloads are reported (default slog.Default())
	Now    func() time.Time // the clock (tests)
}

// New reads the list once through load; an error (unreadable or invalid)
// is returned, so a bad file refuses to start. what names the file in
// errors and logs.
func New(ctx context.Context, what string, load Loader, o Options) (*Source, error) {
	s := newSource(what, load, o)
	if err := s.refresh(ctx); err != nil {
		return nil, fmt.Errorf("affiliates %s: %v", what, err)
	}
	return s, nil
}

// NewLazy is New without the first read: the list is read at first use
// (a Lambda's cold start makes no network call). Until a read succeeds
// Affiliation returns the error.
func NewLazy(what string, load Loader, o Options) *Source {
	return newSource(what, load, o)
}

func newSource(what string, load Loader, o Options) *Source {
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Source{load: load, every: o.Every, what: what, log: o.Logger, now: o.Now}
}

// Affiliation implements provisioner.Affiliates.
func (s *Source) Affiliation(ctx context.Context, login string) (*provisioner.Affiliation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.now().Before(s.next) {
		if err := s.refreshLocked(ctx); err != nil {
			if msg := err.Error(); msg != s.lastEr {
				s.lastEr = msg
				if s.good {
					s.log.Error("affiliates: keeping the last good list", "file", s.what, "err", err)
				} else {
					s.log.Error("affiliates: no list", "file", s.what, "err", err)
				}
			}
		} else {
			s.lastEr = ""
		}
	}
	if !s.good {
		return nil, provisioner.Errorf(provisioner.EUNAVAILABLE, "the affiliates list %s cannot be read", s.what)
	}
	return s.list.Affiliation(login), nil
}

func (s *Source) refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshLocked(ctx)
}

func (s *Source) refreshLocked(ctx context.Context) error {
	s.next = s.now().Add(s.every)
	data, stamp, err := s.load(ctx, s.stamp)
	if err != nil {
		return err
	}
	if s.good && stamp == s.stamp && data == nil {
		return nil
	}
	list, err := Parse(data)
	if err != nil {
		// The stamp stays the last good one's, so the file is parsed (and
		// its error known) again until it is fixed.
		return err
	}
	if s.good && stamp != s.stamp {
		s.log.Info("affiliates: reloaded", "file", s.what, "active", len(list))
	}
	s.list, s.stamp, s.good = list, stamp, true
	return nil
}

// FileLoader reads path, skipping the read while its modification time and
// size are unchanged.
func FileLoader(path string) Loader {
	return func(_ context.Context, stamp string) ([]byte, string, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, "", err
		}
		st := fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
		if st == stamp {
			return nil, st, nil
		}
		data, err := os.ReadFile(path)
		return data, st, err
	}
}

// NewFile reads the affiliates file at path (serve's --affiliates), again
// when it changes, looked at once per second.
func NewFile(path string, log *slog.Logger) (*Source, error) {
	return New(context.Background(), path, FileLoader(path), Options{Logger: log})
}
