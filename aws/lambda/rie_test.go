package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the Runtime Interface Emulator smoke test.
const (
	// EnvRIE names an aws-lambda-rie binary; without it the test is skipped.
	// testdata/rie-smoke.sh builds one from its Go module.
	envRIE = "PROVISIONER_TEST_RIE"
	// envBootstrap names a prebuilt bootstrap to run instead of testdata/rieapp
	// (e.g. the provisioner itself); only GET /healthz is checked then.
	envBootstrap = "PROVISIONER_TEST_RIE_BOOTSTRAP"
)

// TestRIESmoke runs a bootstrap built with -tags lambda.norpc under the
// Lambda Runtime Interface Emulator and invokes it through the emulator's
// invoke API with an API Gateway event, scheduler events and a malformed
// one: the runtime API loop of aws-lambda-go, not just Handler.Invoke.
func TestRIESmoke(t *testing.T) {
	rie := os.Getenv(envRIE)
	if rie == "" {
		t.Skipf("%s is not set: build aws-lambda-rie (see testdata/rie-smoke.sh) to run this test", envRIE)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs on Linux only")
	}
	bootstrap := os.Getenv(envBootstrap)
	ownApp := bootstrap == ""
	if ownApp {
		bootstrap = filepath.Join(t.TempDir(), "bootstrap")
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/rieapp")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the bootstrap: %v\n%s", err, out)
		}
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_REGION=us-west-2")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	})
	invokeURL := "http://" + addr + "/2015-03-31/functions/function/invocations"

	// The first invocation starts the bootstrap (the emulator's init).
	healthz := healthzEvent(t)
	var first []byte
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := post(invokeURL, healthz)
		if err == nil {
			first = out
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("emulator start to first response: %s", time.Since(start).Round(time.Millisecond))
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(first, &resp); err != nil {
		t.Fatalf("response %s: %v", first, err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"success"`) {
		t.Fatalf("GET /healthz through the emulator: %s", first)
	}
	if !ownApp {
		return
	}
	if !strings.Contains(resp.Body, `198.51.100.20:0`) {
		t.Errorf("the handler did not see the client address: %s", resp.Body)
	}

	for _, tc := range []struct{ payload, want string }{
		{`{"action":"reconcile"}`, `"status":"success"`},
		{`{"action":"destroy","cluster":"abc","at":"2030-01-01T00:00:00Z"}`, `"status":"success"`},
		{`{"nothing":"here"}`, `"errorMessage":"lambda: unrecognized event`},
	} {
		out, err := post(invokeURL, []byte(tc.payload))
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("invoke %s: %s, %v; want %s", tc.payload, out, err, tc.want)
		}
	}
}

func healthzEvent(t *testing.T) []byte {
	var ev map[string]any
	if err := json.Unmarshal(fixture(t, "apigw-post-json.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["rawPath"] = "/healthz"
	delete(ev, "body")
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
	b, _ := json.Marshal(ev)
	return b
}

func post(url string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("status %d", resp.StatusCode)
	}
	return b, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
