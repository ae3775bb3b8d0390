package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

var secret = []byte("0123456789abcdef-secret")

func notice() provisioner.Notice {
	return provisioner.Notice{ID: "n1", Kind: provisioner.NoticeDestroySoon, Cluster: "demo", Owner: "ada",
		Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Subject: "demo goes in 10m", Text: "Cluster demo <b> & more\n",
		URL: "https://dash.example/#/clusters/demo"}
}

// receiver records what it got and answers with the next status.
type receiver struct {
	mu      sync.Mutex
	codes   []int
	headers []http.Header
	bodies  [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers, r.bodies = append(r.headers, req.Header.Clone()), append(r.bodies, b)
	code := 200
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	w.WriteHeader(code)
}

func TestSignedDelivery(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	clk := testkit.NewClock(time.Date(2026, 6, 1, 12, 0, 5, 0, time.UTC))
	s, err := New(Config{URL: srv.URL + "/hook", Secret: secret, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), notice()); err != nil {
		t.Fatal(err)
	}
	h, body := rcv.headers[0], rcv.bodies[0]
	if h.Get(HeaderEvent) != "destroy.upcoming" || h.Get(HeaderDelivery) != "n1" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", h)
	}
	if err := Verify(secret, h, body, clk.Now(), 0); err != nil {
		t.Fatalf("a fresh delivery does not verify: %v", err)
	}
	var got provisioner.Notice
	if err := json.Unmarshal(body, &got); err != nil || got.ID != "n1" || got.Cluster != "demo" || got.URL == "" {
		t.Fatalf("body %s: %v", body, err)
	}
	// What a receiver must refuse.
	if err := Verify([]byte("another-secret-of-16"), h, body, clk.Now(), 0); err == nil {
		t.Error("verified under the wrong secret")
	}
	if err := Verify(secret, h, append(body, ' '), clk.Now(), 0); err == nil {
		t.Error("verified a changed body")
	}
	if err := Verify(secret, h, body, clk.Now().Add(6*time.Minute), 0); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("verified a replay six minutes on: %v", err)
	}
	old := h.Clone()
	old.Set(HeaderTimestamp, "1")
	if err := Verify(secret, old, body, clk.Now(), 0); err == nil {
		t.Error("verified with a timestamp that was not signed")
	}
	old.Del(HeaderTimestamp)
	if err := Verify(secret, old, body, clk.Now(), 0); err == nil {
		t.Error("verified without a timestamp")
	}
}

func TestAnswers(t *testing.T) {
	for _, c := range []struct {
		code int
		want string // error code, "" for success
	}{
		{200, ""}, {204, ""}, {500, provisioner.EUNAVAILABLE}, {503, provisioner.EUNAVAILABLE},
		{429, provisioner.EUNAVAILABLE}, {408, provisioner.EUNAVAILABLE},
		{400, provisioner.EINVALID}, {404, provisioner.EINVALID}, {410, provisioner.EINVALID}, {302, provisioner.EINVALID},
	} {
		rcv := &receiver{codes: []int{c.code}}
		srv := httptest.NewServer(rcv)
		s, err := New(Config{URL: srv.URL, Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(t.Context(), notice())
		srv.Close()
		if got := provisioner.ErrorCode(err); got != c.want {
			t.Errorf("HTTP %d: %v, want %q", c.code, err, c.want)
		}
		if (c.want == provisioner.EINVALID) != provisioner.PermanentNoticeError(err) {
			t.Errorf("HTTP %d: permanent is %v", c.code, provisioner.PermanentNoticeError(err))
		}
	}
}

// TestErrorsKeepTheURLSecret: a Slack URL is its credential; no error,
// hence no event, may name it.
func TestErrorsKeepTheURLSecret(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/XXXXSECRET"
	srv.Close() // connection refused from here on
	s, err := NewSlack(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), notice())
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || strings.Contains(err.Error(), "XXXXSECRET") {
		t.Fatalf("%v", err)
	}
}

func TestSlackBody(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s, err := NewSlack(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), notice()); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(rcv.bodies[0], &m); err != nil || len(m) != 1 {
		t.Fatalf("%s: %v", rcv.bodies[0], err)
	}
	want := "*demo goes in 10m*\nCluster demo &lt;b&gt; &amp; more\n<https://dash.example/#/clusters/demo|Open demo on the dashboard>"
	if m["text"] != want {
		t.Errorf("text %q, want %q", m["text"], want)
	}
	if rcv.headers[0].Get(HeaderSignature) != "" {
		t.Error("a Slack post carries our signature")
	}
}

func TestBadConfig(t *testing.T) {
	for _, u := range []string{"", "ftp://x/y", "http://", "https://user:pw@host/x", "https://host/x#frag", "::"} {
		if _, err := New(Config{URL: u, Secret: secret}); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("New(%q) = %v", u, err)
		}
		if _, err := NewSlack(u, nil); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("NewSlack(%q) = %v", u, err)
		}
	}
	if _, err := New(Config{URL: "https://host/x", Secret: []byte("short")}); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("a short secret: %v", err)
	}
}
