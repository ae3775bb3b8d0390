package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/notify/webhook"
)

// TestServeNotices: serve's notice flags wired end to end: a DEPLOY that
// fails sends one signed deploy.failed notice to the webhook (the secret
// from the environment, as every flag can be), linking to serve's own
// dashboard, and `provisioner status` of a deploying cluster shows when its
// first notice goes out.
func TestServeNotices(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	const secret = "serve-notice-secret-0123"
	var mu sync.Mutex
	var got []provisioner.Notice
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(secret), r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("delivery does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var n provisioner.Notice
		_ = json.Unmarshal(body, &n)
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer hook.Close()
	marker := fmt.Sprintf("sleep 300.%d", time.Now().UnixNano()%1000000)
	srv := startServe(t, []string{"PROVISIONER_NOTICE_WEBHOOK_SECRET=" + secret}, "--identity", "static:"+writeIdentity(t),
		"--notice-webhook-url", hook.URL,
		"--cluster-command", `if [ "$CLUSTER" = broken ]; then echo "no such data" >&2; exit 3; fi; exec `+marker)
	t.Cleanup(func() { _ = exec.Command("pkill", "-f", "^"+marker+"$").Run() })
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")

	if code, _, errs := cli(t, "", "deploy", "broken", "--wait"); code != exitFailure {
		t.Fatalf("broken upstream: exit %d %s", code, errs)
	}
	waitFor(t, "the deploy.failed notice", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	n := got[0]
	mu.Unlock()
	if n.Kind != provisioner.NoticeDeployFailed || n.Cluster != "broken" || n.Owner != "otto" ||
		!strings.Contains(n.Reason, "no such data") || n.URL != srv.URL+"/#/clusters/broken" {
		t.Fatalf("notice %+v", n)
	}

	mustCLI(t, "deploy", "sleepy", "--ttl", "2h")
	out := mustCLI(t, "status", "sleepy")
	st := statusOf(t, "sleepy")
	destroy, _ := time.Parse(time.RFC3339, st["destroy_at"].(string))
	want := "next notice: " + destroy.Add(-time.Hour).UTC().Format(time.RFC3339)
	if !strings.Contains(out, want) {
		t.Fatalf("status output lacks %q:\n%s", want, out)
	}
	mustCLI(t, "destroy", "sleepy", "--wait")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Errorf("%d notices, want the one deploy failure: %+v", len(got), got)
	}
}
