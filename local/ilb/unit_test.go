package ilb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		out    string
		want   string
		usable bool
	}{
		{"HAProxy version 3.0.11-9e587df 2025/06/02 - https://haproxy.org/\nStatus: long-term supported branch\n", "3.0.11-9e587df", true},
		{"HA-Proxy version 2.6.12-1+deb12u2 2025/04/11 - https://haproxy.org/\n", "2.6.12-1+deb12u2", false},
		{"HAProxy version 3.3.1 2025/12/01\n", "3.3.1", true},
		{"HA-Proxy version 2.9.0\n", "2.9.0", false},
		{"HAProxy version 10.0.0\n", "10.0.0", true},
	} {
		v, err := ParseVersion(tc.out)
		if err != nil || v.Text != tc.want {
			t.Errorf("%q: %+v, %v", tc.out, v, err)
			continue
		}
		err = v.usable()
		if (err == nil) != tc.usable || (err != nil && (!errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "array audience"))) {
			t.Errorf("%s usable: %v", v, err)
		}
	}
	if _, err := ParseVersion("nginx version: nginx/1.22.1"); err == nil {
		t.Error("parsed a non-HAProxy version")
	}
}

func TestRewrite(t *testing.T) {
	dir := "/run/c/demo.ilb"
	cfg := `global
  log stdout format raw local0 warning
  user root
  group root
  tune.lua.bool-sample-conversion pre-3.1-bug
  lua-load /usr/local/etc/haproxy/orchestrator.lua

frontend user
  bind :80
  bind :443 ssl crt /etc/ssl/private/
  http-request set-var(txn.sig_result) var(txn.jwt),jwt_verify(txn.alg,"/etc/haproxy/pem/pubkey.pem")

frontend discovery
  bind :8050

backend cluster
  server any 0.0.0.0:0 proto h1 # force HTTP 1.1

backend monitor_backend
  server monitor 10.0.1.4:3000
`
	c := Config{Src: "/src", Dir: dir, UserPort: 1080, DiscoveryPort: 1050, MonitorAddr: DefaultMonitorAddr, Version: Version{Major: 3, Minor: 0}}
	out, luas, err := rewrite(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  lua-load /run/c/demo.ilb/orchestrator.lua\n",
		"  bind 127.0.0.1:1080\n",
		"  bind 127.0.0.1:1050\n",
		`jwt_verify(txn.alg,"/run/c/demo.ilb/pem/pubkey.pem")`,
		"  server any 0.0.0.0:0 proto h1 # force HTTP 1.1\n",
		"  server monitor 127.0.0.1:9\n",
		"  log stdout format raw local0 warning\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, gone := range []string{"user root", "group root", ":443", "bool-sample-conversion", "10.0.1.4", "/etc/haproxy"} {
		if strings.Contains(out, gone) {
			t.Errorf("%q left in\n%s", gone, out)
		}
	}
	if len(luas) != 1 || luas[0] != "orchestrator.lua" {
		t.Errorf("lua files %v", luas)
	}
	c.Version = Version{Major: 3, Minor: 3}
	if out, _, _ := rewrite(cfg, c); !strings.Contains(out, "tune.lua.bool-sample-conversion pre-3.1-bug") {
		t.Error("3.3 lost the bool-sample-conversion setting")
	}
	for _, bad := range []string{
		strings.Replace(cfg, "bind :80\n", "bind 0.0.0.0:8080\n", 1),
		strings.Replace(cfg, "bind :8050\n", "", 1),
		strings.Replace(cfg, "jwt_verify(txn.alg,", "jwt_verify(", 1),
	} {
		if _, _, err := rewrite(bad, c); err == nil {
			t.Errorf("rewrote an unexpected config:\n%s", bad)
		}
	}
}

func TestWritePEM(t *testing.T) {
	dir := t.TempDir()
	if _, err := WritePEM(dir, []byte("not a key")); err == nil {
		t.Error("wrote a non-key")
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	k := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if _, err := WritePEM(dir, append(k, k...)); err == nil {
		t.Error("wrote two keys")
	}
	for i, want := range []bool{true, false} {
		changed, err := WritePEM(dir, k)
		if err != nil || changed != want {
			t.Errorf("write %d: changed=%t %v", i, changed, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, PEMFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("pem file: %v %v", st, err)
	}
}
