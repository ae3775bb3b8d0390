// Package pricestest replays recorded Price List API answers
// (prices/testdata/pricelist.json) for the refresh's tests and the AWS
// adapter's.
package pricestest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"provisioner/prices"
)

// Recorded holds GetProducts answers by query; it is a prices.Source.
type Recorded struct {
	Queries []Query `json:"queries"`

	mu     sync.Mutex
	Asked  []Query  // the queries asked, in order (Pages empty)
	Signed []string // Server: each call's Authorization header
}

// Query is one GetProducts query and its answer, page by page.
type Query struct {
	Service string            `json:"service"`
	Filters map[string]string `json:"filters"`
	Pages   [][]string        `json:"pages"`
}

// File is the recorded answers' path.
func File() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "testdata", "pricelist.json")
}

// Load reads the recorded answers.
func Load() (*Recorded, error) {
	data, err := os.ReadFile(File())
	if err != nil {
		return nil, err
	}
	var r Recorded
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", File(), err)
	}
	return &r, nil
}

// Pages returns the recorded pages of a query; ok is false when none is
// recorded (the API then answers an empty list).
func (r *Recorded) Pages(service string, filters map[string]string) (pages [][]string, ok bool) {
	r.mu.Lock()
	r.Asked = append(r.Asked, Query{Service: service, Filters: filters})
	r.mu.Unlock()
	for _, q := range r.Queries {
		if q.Service == service && maps.Equal(q.Filters, filters) {
			return q.Pages, true
		}
	}
	return nil, false
}

// Products implements prices.Source.
func (r *Recorded) Products(_ context.Context, service string, filters []prices.Filter) ([]string, error) {
	m := map[string]string{}
	for _, f := range filters {
		m[f.Field] = f.Value
	}
	pages, _ := r.Pages(service, m)
	var out []string
	for _, p := range pages {
		out = append(out, p...)
	}
	return out, nil
}

// Server serves the recorded answers as the Price List API does (JSON 1.1
// over HTTP, a page per call with NextToken), so the real SDK client runs
// against them; the service code "Fail" answers an API error. It records
// each call's Authorization header in Signed.
func (r *Recorded) Server(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if got := req.Header.Get("X-Amz-Target"); got != "AWSPriceListService.GetProducts" {
			http.Error(w, "unexpected target "+got, http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.Signed = append(r.Signed, req.Header.Get("Authorization"))
		r.mu.Unlock()
		var in struct {
			ServiceCode, FormatVersion, NextToken string
			Filters                               []struct{ Type, Field, Value string }
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		filters := map[string]string{}
		for _, f := range in.Filters {
			if f.Type != "TERM_MATCH" {
				t.Errorf("filter type %q", f.Type)
			}
			filters[f.Field] = f.Value
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if in.ServiceCode == "Fail" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"InvalidParameterException","Message":"bad service"}`))
			return
		}
		pages, _ := r.Pages(in.ServiceCode, filters)
		page := 0
		if in.NextToken != "" {
			page, _ = strconv.Atoi(in.NextToken)
		}
		out := map[string]any{"FormatVersion": in.FormatVersion, "PriceList": []string{}}
		if page < len(pages) {
			out["PriceList"] = pages[page]
		}
		if page+1 < len(pages) {
			out["NextToken"] = strconv.Itoa(page + 1)
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}
