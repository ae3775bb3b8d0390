package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"

	"provisioner/aws/lambda"
)

// apiGateway carries requests for one host through the Lambda handler as
// API Gateway HTTP API (payload 2.0) events, the way the real gateway
// does: header names lower-cased, the Cookie header split into
// "cookies", a form body base64-encoded; the answer's "cookies" come back
// as Set-Cookie headers and its Location as is. Other hosts go to next.
type apiGateway struct {
	h    *lambda.Handler
	host string
	next http.RoundTripper
}

func (g apiGateway) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != g.host {
		return g.next.RoundTrip(r)
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: map[string]string{"host": g.host},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req", Stage: "$default", DomainName: g.host,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, Protocol: "HTTP/1.1", SourceIP: "198.51.100.9"}}}
	for k, vs := range r.Header {
		if k == "Cookie" {
			for _, v := range vs {
				ev.Cookies = append(ev.Cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if len(body) > 0 {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		} else {
			ev.Body = string(body)
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	out, err := g.h.Invoke(r.Context(), payload)
	if err != nil {
		return nil, err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, err
	}
	hdr := http.Header{}
	for k, v := range resp.Headers {
		hdr.Set(k, v)
	}
	for _, c := range resp.Cookies {
		hdr.Add("Set-Cookie", c)
	}
	rb := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if rb, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return nil, err
		}
	}
	return &http.Response{StatusCode: resp.StatusCode, Status: http.StatusText(resp.StatusCode), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: io.NopCloser(bytes.NewReader(rb)), ContentLength: int64(len(rb)), Request: r}, nil
}

// TestAWSBackendOAuth is the OAuth flow on the AWS backend, through the
// Lambda adapter: registration, login through GitHub (the browser's
// cookie and every redirect cross API Gateway events), code, token,
// refresh, reuse detection, an expired code (the clock moved), and the
// basic login's domain cookie; state in DynamoDB, tokens signed by KMS.
func TestAWSBackendOAuth(t *testing.T) {
	b := newAWSBackendWith(t, map[string]string{
		"PROVISIONER_GITHUB_CLIENT_ID": "client-1", "PROVISIONER_GITHUB_CLIENT_SECRET": "secret-1",
		"PROVISIONER_GITHUB_TOKEN":        "tok-operator",
		"PROVISIONER_OAUTH_TRUSTED_HOSTS": "app.example.org", "PROVISIONER_OAUTH_THIRD_PARTY_HOSTS": "claude.ai",
	})
	b.gh.SetOAuthApp("client-1", "secret-1")
	b.gh.AddUser("tok-org", "otto", 2)
	b.gh.SetOrgMembership("otto", "sliderule", "active", "member")
	b.gh.AddUser("tok-operator", "operator", 99)
	b.gh.SetOrgMembership("operator", "sliderule", "active", "member")
	// The basic login's redirect URI is a cluster's Grafana under the domain.
	b.env["PROVISIONER_OAUTH_TRUSTED_HOSTS"] += " " + b.domain
	h, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}
	host := "provisioner." + b.domain
	issuer := "https://" + host
	gw := apiGateway{h: h, host: host, next: http.DefaultTransport}
	client := &http.Client{Transport: gw}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)

	// Registration.
	reg, _ := json.Marshal(map[string]any{"redirect_uris": []string{webRedirect}, "client_name": "web",
		"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "provisioner:access sliderule:access"})
	resp, err := client.Post(issuer+"/auth/github/register", "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var cl map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&cl)
	resp.Body.Close()
	id, _ := cl["client_id"].(string)
	if resp.StatusCode != 201 || id == "" {
		t.Fatalf("register: %d %v", resp.StatusCode, cl)
	}
	conf := &oauth2.Config{ClientID: id, RedirectURL: webRedirect, Scopes: []string{"provisioner:access"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/auth/github/login", TokenURL: issuer + "/auth/github/token", AuthStyle: oauth2.AuthStyleInParams}}

	// The browser keeps cookies and follows redirects between the
	// provisioner and GitHub, stopping at the client.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: gw, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != host && req.URL.Host != strings.TrimPrefix(b.gh.URL(), "http://") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	b.gh.SignInWeb("tok-org")
	authorize := func() (string, string) {
		t.Helper()
		v := oauth2.GenerateVerifier()
		resp, err := browser.Get(conf.AuthCodeURL("st-aws", oauth2.S256ChallengeOption(v)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		if resp.StatusCode != 302 || loc == nil || !strings.HasPrefix(loc.String(), webRedirect+"?") || loc.Query().Get("state") != "st-aws" {
			t.Fatalf("authorization ended with %d at %v", resp.StatusCode, loc)
		}
		return loc.Query().Get("code"), v
	}
	code, v := authorize()
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	b.token = tok.AccessToken
	if s, body := b.apiTo(h, "GET", "/auth/whoami", "", nil); s != 200 || body["metadata"].(map[string]any)["sub"] != "otto" {
		t.Fatalf("whoami with the OAuth access token: %d %v", s, body)
	}
	b.token = ""

	// Refresh, then reuse of the first refresh token revokes the grant.
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v %v", tok2, err)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh token of a revoked grant: %v", err)
	}

	// An expired code, on the Lambda's clock.
	code, v = authorize()
	b.clock.Add(61 * time.Second)
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("expired code: %v", err)
	}
	// And one replayed.
	code, v = authorize()
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("replayed code: %v", err)
	}

	// The dashboard's "Sign in with GitHub": the built-in client, started
	// on one instance and finished on another (GitHub's callback and the
	// dashboard's go to a second handler on the same table), as API
	// Gateway spreads a browser's requests over the function's instances.
	h2, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}
	two := instances{first: gw, second: apiGateway{h: h2, host: host, next: http.DefaultTransport}}
	djar, _ := cookiejar.New(nil)
	var hops []string
	dash := &http.Client{Jar: djar, Transport: two, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		hops = append(hops, req.URL.Path+"#"+req.URL.Fragment)
		return nil
	}}
	resp, err = dash.Get(issuer + "/ui/github/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "/auth/github/login# /login/oauth/authorize# /auth/github/callback# /ui/github/callback# /#"; resp.StatusCode != 200 || strings.Join(hops, " ") != want {
		t.Fatalf("dashboard sign-in: %d through %v, want %s", resp.StatusCode, hops, want)
	}
	session := func() map[string]any {
		t.Helper()
		resp, err := dash.Get(issuer + "/ui/session")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := session()
	if s["signed_in"] != true || s["login"] != "otto" || s["github"] != true {
		t.Fatalf("the dashboard's session: %v", s)
	}
	req, _ := http.NewRequest("POST", issuer+"/ui/logout", nil)
	req.Header.Set("Origin", issuer)
	req.Header.Set("X-Provisioner-CSRF", s["csrf"].(string))
	if resp, err = dash.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	resp.Body.Close()
	if s := session(); s["signed_in"] != false {
		t.Errorf("after logout: %v", s)
	}

	// The basic login: the token cookie for the whole domain, and back.
	back := "https://demo." + b.domain + "/grafana/"
	resp, err = browser.Get(issuer + "/auth/github/basic/login?redirect_uri=" + url.QueryEscape(back))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "token=") {
			cookie = c
		}
	}
	if resp.StatusCode != 302 || resp.Header.Get("Location") != back ||
		!strings.HasSuffix(cookie, "; Domain=."+b.domain+"; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=86400") {
		t.Fatalf("basic login: %d to %q, cookie %q", resp.StatusCode, resp.Header.Get("Location"), cookie)
	}
}

const webRedirect = "https://app.example.org/callback"

// instances sends the callbacks (GitHub's and the dashboard's) to a
// second instance of the function, everything else to the first.
type instances struct{ first, second http.RoundTripper }

func (i instances) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/callback") {
		return i.second.RoundTrip(r)
	}
	return i.first.RoundTrip(r)
}
