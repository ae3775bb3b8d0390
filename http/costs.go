package http

import (
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// planAnswer answers a DEPLOY with dry_run.
func planAnswer(p app.Plan, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return api.DeployPlan{Status: "success", DryRun: true, Cluster: p.Cluster, User: p.User, State: string(p.State),
		NodeCapacity: p.Nodes, TTL: int(p.TTL / time.Minute), EstimatedCost: p.Estimate, Budget: budgetNote(p.Budget)}, nil
}

// costReport is GET /report/costs?by=cluster|user|team&since=DAY: the
// spend the caller may see (app.Costs).
func (s *Server) costReport() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		q := r.URL.Query()
		since, err := sinceParam(q.Get("since"))
		if err != nil {
			return nil, err
		}
		rep, err := s.app.Costs(r.Context(), c, app.CostQuery{By: q.Get("by"), Since: since})
		if err != nil {
			return nil, err
		}
		out := api.CostReport{Status: "success", By: rep.By, Since: rep.Since.Format(time.DateOnly), Until: rep.Until,
			Source: rep.Source, Currency: rep.Currency, Total: rep.Total, Groups: make([]api.CostGroup, 0, len(rep.Groups))}
		for _, g := range rep.Groups {
			ag := api.CostGroup{Key: g.Key, Total: g.Total, Days: make([]api.DayCost, 0, len(g.Days))}
			for _, d := range g.Days {
				ag.Days = append(ag.Days, api.DayCost{Date: d.Day.Format(time.DateOnly), Amount: d.Amount})
			}
			out.Groups = append(out.Groups, ag)
		}
		return out, nil
	})
}

// sinceParam reads since: a day (2026-03-01) or an RFC 3339 time; empty
// is the zero time (the app's default).
func sinceParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, provisioner.Errorf(provisioner.EINVALID, "since must be a day such as 2026-03-01 or an RFC 3339 time, not %q", clipParam(v))
}

func clipParam(v string) string {
	if len(v) > 40 {
		return v[:40] + "..."
	}
	return v
}
