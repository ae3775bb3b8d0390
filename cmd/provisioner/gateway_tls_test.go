package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestGatewayTLS: with --tls-cert/--tls-key the gateway serves HTTPS itself.
func TestGatewayTLS(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("node")) }))
	defer upstream.Close()
	cert, key, pool := selfSigned(t)
	gw, _ := startGateway(t, "--cluster", "tls-demo", "--public", "--upstream", upstream.URL,
		"--issuer", "https://provisioner.example.org", "--tls-cert", cert, "--tls-key", key)
	url := strings.Replace(gw.URL, "http://", "https://", 1)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	res, err := c.Get(url + "/source/version")
	if err != nil {
		t.Fatalf("HTTPS through the gateway: %v\n%s", err, gw.stderr)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("status %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	// Plain HTTP on the TLS port is refused.
	if res, err := http.Get(gw.URL + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Fatal("plain HTTP accepted on the TLS port")
	}
	for _, args := range [][]string{{"--tls-cert", cert}, {"--tls-cert", cert, "--tls-key", cert}} {
		code, _, errs := cli(t, "", append([]string{"gateway", "--cluster", "tls-demo", "--public", "--upstream", upstream.URL,
			"--issuer", "https://provisioner.example.org", "--listen", "127.0.0.1:0"}, args...)...)
		if code != exitUsage || !strings.Contains(errs, "tls") {
			t.Errorf("%v: exit %d %s", args, code, errs)
		}
	}
}
