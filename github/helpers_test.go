package github_test

import (
	"errors"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

const (
	org      = "SlideRuleEarth"
	audience = "sliderule-provisioner"
	clientID = "Iv1.testclient"
)

// newProvider returns a Provider wired to srv; edit adjusts the config.
func newProvider(t *testing.T, srv *githubtest.Server, edit func(*github.Config)) *github.Provider {
	t.Helper()
	cfg := github.Config{
		APIURL:          srv.APIURL(),
		WebURL:          srv.WebURL(),
		Org:             org,
		ClientID:        clientID,
		ActionsIssuer:   srv.IssuerURL(),
		ActionsAudience: audience,
		HTTPClient:      srv.Client(),
		Timeout:         5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := github.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// wantCode fails unless err is a *provisioner.Error with code.
func wantCode(t *testing.T, err error, code string) *provisioner.Error {
	t.Helper()
	var e *provisioner.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	return e
}
