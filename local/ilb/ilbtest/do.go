package ilbtest

import (
	"io"
	"net/http"
	"testing"
)

var client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}
