package costexplorer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/costexplorer"
	"provisioner/testkit"
)

// ceRequest is the part of a GetCostAndUsage request the tests check.
type ceRequest struct {
	TimePeriod    struct{ Start, End string }
	Granularity   string
	Metrics       []string
	GroupBy       []struct{ Type, Key string }
	NextPageToken string
	Filter        struct {
		Tags struct {
			Key          string
			Values       []string
			MatchOptions []string
		}
	}
}

// recordedCE serves testdata/getcostandusage-<tag>-<page>.json as Cost
// Explorer does (JSON 1.1), by the second group key and the page token.
func recordedCE(t *testing.T) (*httptest.Server, *[]ceRequest) {
	var mu sync.Mutex
	var seen []ceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Amz-Target"); got != "AWSInsightsIndexService.GetCostAndUsage" {
			http.Error(w, "unexpected target "+got, http.StatusBadRequest)
			return
		}
		if !strings.Contains(r.Header.Get("Authorization"), "/us-east-1/ce/aws4_request") {
			t.Errorf("not signed for Cost Explorer in us-east-1: %s", r.Header.Get("Authorization"))
		}
		var in ceRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.GroupBy) != 2 {
			http.Error(w, fmt.Sprint("bad request ", err), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen = append(seen, in)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if in.TimePeriod.Start == "2026-04-01" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"DataUnavailableException","Message":"Data is not available."}`))
			return
		}
		page := "1"
		if in.NextPageToken == "page-2" {
			page = "2"
		}
		data, err := os.ReadFile(filepath.Join("testdata", "getcostandusage-"+in.GroupBy[1].Key+"-"+page+".json"))
		if err != nil {
			t.Errorf("no recorded answer: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func sdkAt(t *testing.T, endpoint string) aws.Config {
	t.Helper()
	sdk, err := awsenv.Load(context.Background(), awsenv.Options{Region: "us-west-2", Endpoint: endpoint,
		StaticCredentials: &aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	return sdk
}

func date(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

func TestSpendOnRecordedAnswers(t *testing.T) {
	srv, seen := recordedCE(t)
	clock := testkit.NewClock(date(3).Add(10 * time.Hour))
	s := costexplorer.New(sdkAt(t, srv.URL), costexplorer.Config{TagKey: "provisioner", TagValue: "sliderule", Now: clock.Now})
	rows, err := s.Spend(context.Background(), date(1).Add(5*time.Hour), date(3))
	if err != nil {
		t.Fatal(err)
	}
	want := []provisioner.SpendRow{
		{Day: date(1), Cluster: "demo", Owner: "ann", Team: "dev", Amount: 7.412346},
		{Day: date(1), Cluster: "demo", Owner: "bob", Team: "dev", Amount: 1.25},
		{Day: date(1), Cluster: "", Owner: "", Team: "", Amount: 0},
		{Day: date(2), Cluster: "demo", Owner: "ann", Team: "dev", Amount: 3.5},
		// Two teams on one cluster's day: neither is its team.
		{Day: date(2), Cluster: "shared", Owner: "carl", Team: "", Amount: 2},
		// A job machine: no cluster.
		{Day: date(2), Cluster: "", Owner: "dee", Team: "", Amount: 0.62},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range want {
		if !rows[i].Day.Equal(want[i].Day) || rows[i] != (provisioner.SpendRow{Day: rows[i].Day, Cluster: want[i].Cluster,
			Owner: want[i].Owner, Team: want[i].Team, Amount: want[i].Amount}) {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	// Two pages by owner, one by team; the window is whole days, the
	// filter this provisioner's tag.
	if len(*seen) != 3 {
		t.Fatalf("%d requests", len(*seen))
	}
	for i, in := range *seen {
		if in.TimePeriod.Start != "2026-03-01" || in.TimePeriod.End != "2026-03-03" || in.Granularity != "DAILY" ||
			len(in.Metrics) != 1 || in.Metrics[0] != "UnblendedCost" || in.GroupBy[0].Type != "TAG" || in.GroupBy[0].Key != "cluster" ||
			in.Filter.Tags.Key != "provisioner" || len(in.Filter.Tags.Values) != 1 || in.Filter.Tags.Values[0] != "sliderule" {
			t.Errorf("request %d = %+v", i, in)
		}
	}
	if (*seen)[1].NextPageToken != "page-2" || (*seen)[2].GroupBy[1].Key != "team" {
		t.Errorf("paging: %+v", *seen)
	}
	// The same window again within the hour: no request (each costs money).
	if _, err := s.Spend(context.Background(), date(1), date(3)); err != nil || len(*seen) != 3 {
		t.Errorf("cached: %v, %d requests", err, len(*seen))
	}
	clock.Add(time.Hour)
	if _, err := s.Spend(context.Background(), date(1), date(3)); err != nil || len(*seen) != 6 {
		t.Errorf("after an hour: %v, %d requests", err, len(*seen))
	}
	// Errors: Cost Explorer's is unavailable with its message; an empty
	// window is refused before any request.
	_, err = s.Spend(context.Background(), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || !strings.Contains(err.Error(), "Data is not available") {
		t.Errorf("API error: %v", err)
	}
	n := len(*seen)
	if _, err := s.Spend(context.Background(), date(2), date(2).Add(3*time.Hour)); provisioner.ErrorCode(err) != provisioner.EINVALID || len(*seen) != n {
		t.Errorf("empty window: %v", err)
	}
}

// TestSpendAgainstTheEmulator queues answers in moto's Cost Explorer
// (/moto-api/static/ce/cost-and-usage-results) and reads them through the
// real client. moto hands a queued answer to the first request with a
// body it has not seen, in order, and the same answer to that body after;
// the window is random so that runs do not meet each other's answers.
func TestSpendAgainstTheEmulator(t *testing.T) {
	ep := awstest.Endpoint(t)
	since := time.Date(2015+rand.IntN(10), time.Month(1+rand.IntN(12)), 1+rand.IntN(28), 0, 0, 0, 0, time.UTC)
	d1, d2 := since.Format(time.DateOnly), since.AddDate(0, 0, 1).Format(time.DateOnly)
	metric := func(v string) map[string]any {
		return map[string]any{"UnblendedCost": map[string]string{"Amount": v, "Unit": "USD"}}
	}
	results := []any{
		map[string]any{"ResultsByTime": []any{map[string]any{"TimePeriod": map[string]string{"Start": d1, "End": d2}, "Estimated": false,
			"Groups": []any{
				map[string]any{"Keys": []string{"cluster$alpha", "owner$ann"}, "Metrics": metric("4.20")},
				map[string]any{"Keys": []string{"cluster$alpha", "owner$bob"}, "Metrics": metric("0.80")},
			}}}, "DimensionValueAttributes": []any{}},
		map[string]any{"ResultsByTime": []any{map[string]any{"TimePeriod": map[string]string{"Start": d1, "End": d2}, "Estimated": false,
			"Groups": []any{map[string]any{"Keys": []string{"cluster$alpha", "team$science"}, "Metrics": metric("5.00")}}}},
			"DimensionValueAttributes": []any{}},
	}
	body, _ := json.Marshal(map[string]any{"results": results})
	resp, err := http.Post(ep+"/moto-api/static/ce/cost-and-usage-results", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("queueing answers: %s", resp.Status)
	}
	s := costexplorer.New(sdkAt(t, ep), costexplorer.Config{TagKey: "provisioner", TagValue: awstest.Name("p")})
	rows, err := s.Spend(context.Background(), since, since.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Cluster != "alpha" || rows[0].Owner != "ann" || rows[0].Team != "science" || rows[0].Amount != 4.2 ||
		rows[1].Owner != "bob" || rows[1].Team != "science" || rows[1].Amount != 0.8 || !rows[0].Day.Equal(since) {
		t.Errorf("rows = %+v", rows)
	}
}
