// Package pricestest replays recorded Price List API answers
// (prices/testdata/pricelist.json) for the refresh's tests and the AWS
// adapter's.
package pricestest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"provisioner/prices"
)

// Recorded holds GetProducts answers by query; it is a prices.Source.
type Recorded struct {
	Queries []Query `json:"queries"`

	mu    sync.Mutex
	Asked []Query // the queries asked, in order (Pages empty)
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
