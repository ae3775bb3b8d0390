package http_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/signature"
)

// signEnv is the service under a signature policy, with ada's key (and
// otto's) in the operator's key file.
func signEnv(t *testing.T, policy provisioner.SignaturePolicy) (*env, map[string]ed25519.PrivateKey) {
	t.Helper()
	priv := map[string]ed25519.PrivateKey{}
	var lines []string
	for _, login := range []string{"ada", "otto"} {
		pub, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pk, _ := ssh.NewPublicKey(pub)
		priv[login] = p
		lines = append(lines, login+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))+" "+login+"@test")
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := signature.NewFileKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(a *app.Config, h *phttp.Config) {
		a.Signatures = policy
		h.Signatures = &signature.Verifier{Policy: policy, Keys: keys}
	})
	return e, priv
}

// signed returns the headers the released client's __signrequest makes.
func (e *env) signed(key ed25519.PrivateKey, path, body string, at time.Time) []string {
	u, _ := url.Parse(e.srv.URL)
	ts := strconv.FormatInt(at.Unix(), 10)
	msg := signature.Canonical(u.Host+path, ts, []byte(body))
	return []string{signature.HeaderTimestamp, ts, signature.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))}
}

func TestSignaturesEveryone(t *testing.T) {
	e, priv := signEnv(t, provisioner.SignaturesEveryone)
	tok := e.login("tok-org")
	var who struct {
		Metadata struct {
			OrgRoles []string `json:"org_roles"`
			Level    string   `json:"level"`
		} `json:"metadata"`
	}
	r := e.do("GET", "/auth/whoami", tok, nil)
	if err := json.Unmarshal(r.raw, &who); err != nil || !slices.Contains(who.Metadata.OrgRoles, "developer") || who.Metadata.Level != "org_member" {
		t.Fatalf("whoami: %s", r.raw)
	}

	body := `{"cluster":"signed","node_capacity":1,"ttl":30}`
	now := time.Now()
	good := e.signed(priv["otto"], "/deploy", body, now)
	if r := e.do("POST", "/deploy", tok, body, good...); r.status != 200 && r.status != 202 {
		t.Fatalf("signed deploy: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/deploy", tok, body, good...), 401, provisioner.EBADSIGNATURE) // replay
	wantError(t, e.do("POST", "/deploy", tok, body), 401, provisioner.ESIGREQUIRED)
	wantError(t, e.do("POST", "/deploy", tok, body, e.signed(priv["ada"], "/deploy", body, now)...), 401, provisioner.EBADSIGNATURE)
	wantError(t, e.do("POST", "/deploy", tok, body, e.signed(priv["otto"], "/deploy", body, now.Add(-2*time.Minute))...), 401, provisioner.EBADSIGNATURE)
	wantError(t, e.do("POST", "/deploy", tok, strings.Replace(body, "30", "31", 1), e.signed(priv["otto"], "/deploy", body, now)...), 401, provisioner.EBADSIGNATURE)
	wantError(t, e.do("POST", "/destroy", tok, body, e.signed(priv["otto"], "/deploy", body, now)...), 401, provisioner.EBADSIGNATURE)
	bad := e.signed(priv["otto"], "/extend", body, now)
	bad[1] = "yesterday"
	wantError(t, e.do("POST", "/extend", tok, body, bad...), 400, provisioner.EINVALID)
	// Reading calls stay token-only.
	if r := e.do("POST", "/status", tok, `{"cluster":"signed"}`); r.status != 200 {
		t.Errorf("unsigned status: %d %s", r.status, r.raw)
	}
	// A user with no registered key cannot sign.
	mia := e.login("tok-member")
	wantError(t, e.do("POST", "/deploy", mia, body, e.signed(priv["otto"], "/deploy", body, now)...), 401, provisioner.EBADSIGNATURE)
	// A bad token is still a bad token, before any signature matters.
	wantError(t, e.do("POST", "/deploy", "nope", body), 401, provisioner.EUNAUTHORIZED)
}

func TestSignaturesOwners(t *testing.T) {
	e, priv := signEnv(t, provisioner.SignaturesOwners)
	admin, member := e.login("tok-admin"), e.login("tok-org")
	body := `{"cluster":"own","node_capacity":1,"ttl":30}`
	if r := e.do("POST", "/deploy", member, body); r.status != 200 && r.status != 202 {
		t.Fatalf("org member's unsigned deploy under owners: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/extend", admin, `{"cluster":"own","ttl":40}`), 401, provisioner.ESIGREQUIRED)
	if r := e.do("POST", "/extend", admin, `{"cluster":"own","ttl":40}`, e.signed(priv["ada"], "/extend", `{"cluster":"own","ttl":40}`, time.Now())...); r.status != 200 {
		t.Fatalf("admin's signed extend: %d %s", r.status, r.raw)
	}
	// Cancelling a job changes state: it is signed like TEST and RELEASE
	// (an unknown job is 404 only once the signature passed).
	noJob := strings.Repeat("0f", 16)
	wantError(t, e.do("POST", "/jobs/"+noJob+"/cancel", admin, nil), 401, provisioner.ESIGREQUIRED)
	wantError(t, e.do("POST", "/jobs/"+noJob+"/cancel", admin, nil, e.signed(priv["ada"], "/jobs/"+noJob+"/cancel", "", time.Now())...),
		404, provisioner.ENOTFOUND)
	// Reading a job's log stays token-only.
	wantError(t, e.do("GET", "/jobs/"+noJob+"/log", admin, nil), 404, provisioner.ENOTFOUND)
}
