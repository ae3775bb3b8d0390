package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner/testkit"
)

func sshKey(t *testing.T) ([]byte, string) { return testkit.SSHKey(t) }

// signWithClient runs the released client's own signer (sign_request.py)
// with the key in the clients' ~/.sliderule_key.
func (c *releasedClients) signWithClient(t *testing.T, hostPath, body string, skew int) map[string]string {
	t.Helper()
	code, out, errs := c.run(t, "", []string{c.python, filepath.Join(c.shim, "sign_request.py"), hostPath, body, itoa(skew)})
	var h map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || h["x-sliderule-signature"] == "" {
		t.Fatalf("sign_request.py: exit %d\n%s\n%s", code, out, errs)
	}
	return h
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// signedCall posts body to serve as the client would reach
// https://provisioner.<domain>: the Host header names that host.
func signedCall(t *testing.T, base, path, token, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "provisioner." + clientsDomain
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestReleasedClientSignatures: under --signature-policy everyone, the
// released client, given a key in ~/.sliderule_key and a token whose
// org_roles lists developer, signs its provisioner calls with its own
// signer and serve accepts them; a wrong key, an old timestamp, a replay,
// a changed body and a missing signature are refused.
func TestReleasedClientSignatures(t *testing.T) {
	c := newReleasedClients(t)
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		t.Fatal(err)
	}
	priv, pub := sshKey(t)
	wrong, _ := sshKey(t)
	keyFile := filepath.Join(c.home, ".sliderule_key")
	setKey := func(k []byte) {
		t.Helper()
		if err := os.WriteFile(keyFile, k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := filepath.Join(t.TempDir(), "signing-keys")
	if err := os.WriteFile(keys, []byte("otto "+pub+" otto@laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, adminTok := clientsServe(t, "--signature-policy", "everyone", "--signing-keys", keys)
	c.routes = clientRoutes(clientsDomain, srv.URL, nil)
	session := func(call clientCall) (sessionRun, map[string]any) {
		t.Helper()
		run := c.session(t, patMember, sessionSpec{
			Session: map[string]any{"domain": clientsDomain, "cluster": "signed"}, Calls: []clientCall{call}})
		var v map[string]any
		run.result(t, 0, &v)
		return run, v
	}
	lastStatus := func(path string) int {
		t.Helper()
		got := requestsTo(c.requests(t), "POST", "https://provisioner."+clientsDomain+path)
		if len(got) == 0 || got[len(got)-1].Status == nil {
			t.Fatalf("no request to %s", path)
		}
		return *got[len(got)-1].Status
	}

	// Signed by the client: accepted.
	setKey(priv)
	run, v := session(clientCall{Call: "provisioner.deploy", Kwargs: map[string]any{"is_public": false, "node_capacity": 1, "ttl": 30, "version": "latest"}})
	roles, _ := run.Metadata["org_roles"].([]any)
	if !slices.Contains(roles, any("developer")) {
		t.Fatalf("the login token's org_roles %v lack developer", run.Metadata["org_roles"])
	}
	noError(t, "signed deploy", v)
	if v["error"] != nil {
		t.Log(run.Stderr) // e.g. "Request not signed: ..." from the client
	}
	if s := lastStatus("/deploy"); s >= 300 {
		t.Fatalf("signed deploy: %d", s)
	}
	waitState(t, srv.URL, adminTok, "signed", "running", time.Minute)

	// A wrong key: refused (the client retries a 401 once, refused again).
	setKey(wrong)
	_, v = session(clientCall{Call: "provisioner.extend", Kwargs: map[string]any{"ttl": 45}})
	if v["error"] == nil || lastStatus("/extend") != http.StatusUnauthorized {
		t.Errorf("extend signed with a wrong key: %v", v)
	}
	// No key: the client sends no signature, which is required.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	_, v = session(clientCall{Call: "provisioner.extend", Kwargs: map[string]any{"ttl": 45}})
	if v["error"] == nil || lastStatus("/extend") != http.StatusUnauthorized ||
		!strings.Contains(toJSON(v), "signature_required") {
		t.Errorf("unsigned extend: %v", v)
	}

	// The client's signer, by hand: old timestamp, replay, changed body.
	setKey(priv)
	tok := patLogin(t, srv.URL, patMember)
	body := `{"cluster": "signed", "ttl": 50}`
	hostPath := "provisioner." + clientsDomain + "/extend"
	for _, tc := range []struct {
		what string
		skew int
		body string
	}{
		{"old timestamp", -120, body},
		{"changed body", 0, strings.Replace(body, "50", "5000", 1)},
	} {
		h := c.signWithClient(t, hostPath, body, tc.skew)
		if code, m := signedCall(t, srv.URL, "/extend", tok, tc.body, h); code != http.StatusUnauthorized || m["error"] != "invalid_signature" {
			t.Errorf("%s: %d %v", tc.what, code, m)
		}
	}
	h := c.signWithClient(t, hostPath, body, 0)
	if code, m := signedCall(t, srv.URL, "/extend", tok, body, h); code != http.StatusOK {
		t.Fatalf("signed extend: %d %v", code, m)
	}
	if code, m := signedCall(t, srv.URL, "/extend", tok, body, h); code != http.StatusUnauthorized || m["error"] != "invalid_signature" {
		t.Errorf("replay: %d %v", code, m)
	}

	// The client destroys its cluster, signed.
	_, v = session(clientCall{Call: "provisioner.destroy"})
	noError(t, "signed destroy", v)
	waitState(t, srv.URL, adminTok, "signed", "", time.Minute)
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
