package client

import (
	"context"
	"net/http"
	"net/url"

	"provisioner/api"
)

// PlanDeploy is DEPLOY's dry run: the request checked and its estimated
// cost, nothing deployed.
func (c *Client) PlanDeploy(ctx context.Context, req api.DeployRequest) (api.DeployPlan, error) {
	req.DryRun = true
	var out api.DeployPlan
	_, err := c.do(ctx, http.MethodPost, "/deploy", req, &out)
	return out, err
}

// Costs is GET /report/costs: the spend by (cluster, user or team; ""
// the server's default) since a day (YYYY-MM-DD or RFC 3339; "" the
// server's default).
func (c *Client) Costs(ctx context.Context, by, since string) (api.CostReport, error) {
	q := url.Values{}
	if by != "" {
		q.Set("by", by)
	}
	if since != "" {
		q.Set("since", since)
	}
	path := "/report/costs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.CostReport
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Budgets is GET /report/budgets: the budgets the caller may see, this
// month.
func (c *Client) Budgets(ctx context.Context) (api.BudgetReport, error) {
	var out api.BudgetReport
	_, err := c.do(ctx, http.MethodGet, "/report/budgets", nil, &out)
	return out, err
}
