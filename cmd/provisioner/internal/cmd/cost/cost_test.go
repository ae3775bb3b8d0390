package cost

import (
	"errors"
	"strings"
	"testing"

	"provisioner"
	"provisioner/api"
	"provisioner/cmd/provisioner/internal/cmdtest"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

func TestNewCmdCosts(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    CostsOptions
		wantErr string
	}{
		{args: "costs", want: CostsOptions{By: "cluster"}},
		{args: "costs --by user --since 2026-03-01 --daily --json", want: CostsOptions{By: "user", Since: "2026-03-01", Daily: true, APIOptions: cmdutil.APIOptions{JSON: true}}},
		{args: "costs --by team --since 30d", want: CostsOptions{By: "team", Since: "2026-07-02"}},
		{args: "costs --since 2026-03-01T12:00:00Z", want: CostsOptions{By: "cluster", Since: "2026-03-01T12:00:00Z"}},
		{args: "costs --by zone", wantErr: `--by must be cluster, user or team, not "zone"`},
		{args: "costs --since yesterday", wantErr: "--since must be a day"},
		{args: "costs --since 9999d", wantErr: "--since must be a day"},
		{args: "costs demo", wantErr: `unknown command "demo"`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *CostsOptions
			err := cmdtest.Run(f, NewCmdCosts(f, func(o *CostsOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.By != tt.want.By || got.Since != tt.want.Since || got.Daily != tt.want.Daily || got.JSON != tt.want.JSON {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

var report = api.CostReport{Status: "success", By: "cluster", Since: "2026-07-01", Until: cmdtest.Now, Source: "metered", Currency: "USD",
	Total: 3.311987, Groups: []api.CostGroup{
		{Key: "c1", Total: 1.82126, Days: []api.DayCost{{Date: "2026-07-30", Amount: 0.5}, {Date: "2026-07-31", Amount: 1.32126}}},
		{Key: "", Total: 1.490727, Days: []api.DayCost{{Date: "2026-07-31", Amount: 1.490727}}},
	}}

// TestCostsOutput: aligned under a header on a terminal (cents, or four
// decimals under a dollar), bare
// tab-separated rows with every digit for scripts; the total on stderr.
func TestCostsOutput(t *testing.T) {
	for _, tc := range []struct {
		args string
		tty  bool
		want string
	}{
		{"costs", false, "c1\t1.82126\n-\t1.490727\n"},
		{"costs", true, "CLUSTER  TOTAL (USD)\nc1       1.82\n-        1.49\n"},
		{"costs --daily", false, "c1\t2026-07-30\t0.5\nc1\t2026-07-31\t1.32126\n-\t2026-07-31\t1.490727\n"},
		{"costs --daily", true, "CLUSTER  DAY         AMOUNT (USD)\nc1       2026-07-30  0.5000\nc1       2026-07-31  1.32\n-        2026-07-31  1.49\n"},
	} {
		f, out, errb := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tc.tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/costs": cmdtest.OK(report)})
		if err := cmdtest.Run(f, NewCmdCosts(f, nil), tc.args); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%s tty=%v:\n%s\nwant:\n%s", tc.args, tc.tty, out.String(), tc.want)
		}
		if want := "total $3.31 since 2026-07-01, metered: runtime × estimated price\n"; errb.String() != want {
			t.Errorf("stderr %q, want %q", errb.String(), want)
		}
	}
	f, out, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/costs": cmdtest.OK(report)})
	if err := cmdtest.Run(f, NewCmdCosts(f, nil), "costs --json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"total": 3.311987`) || !strings.Contains(out.String(), `"date": "2026-07-30"`) {
		t.Errorf("--json: %s", out.String())
	}
}

func TestFormats(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 0.772723: "$0.7727", 1.545445: "$1.55", 12: "$12.00"} {
		if got := Dollars(v); got != want {
			t.Errorf("Dollars(%v) = %q, want %q", v, got, want)
		}
	}
	for h, want := range map[float64]string{2: "2h", 1.5: "1h30m", 0.75: "45m", 0.016667: "1m"} {
		if got := Hours(h); got != want {
			t.Errorf("Hours(%v) = %q, want %q", h, got, want)
		}
	}
	e := provisioner.Estimate{Region: "us-west-2", Nodes: 2, Hours: 2, Hourly: 0.772723, Total: 1.545445, PricesAsOf: "2026-01-15"}
	if got := Summary(e); got != "$0.7727 an hour, $1.55 for 2h (2 nodes, us-west-2, prices of 2026-01-15)" {
		t.Errorf("Summary = %q", got)
	}
}
