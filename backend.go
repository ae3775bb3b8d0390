package provisioner

import "context"

// Backend is the set of parts a backend gives the app: local.Config.Open
// and aws.Config.Open each return one, and cmd/ wires it into app and
// http. A nil part disables what needs it (no Driver: no DEPLOY; no Runner:
// no TEST or RELEASE; no Device: no device flow).
type Backend struct {
	Store     Store
	Signer    Signer
	Driver    ClusterDriver
	Scheduler Scheduler
	Runner    JobRunner
	Logs      LogStore

	// Identity checks PATs (LOGIN); Device, Actions and Membership are the
	// device flow, GitHub Actions login and the membership re-check.
	Identity   IdentityProvider
	Device     DeviceFlow
	Actions    ActionsVerifier
	Membership MembershipChecker
	Affiliates Affiliates
	// Web is GitHub's web flow, the OAuth authorization server's upstream
	// (the OAuth app's client id and secret); nil turns the server off.
	Web WebFlow

	// Reap ends job machines that outlived their jobs (the reconcile sweep
	// calls it); nil when jobs end with their process.
	Reap func(ctx context.Context) error

	// Costs: Prices is the price table in force and Layout what a cluster
	// is made of, as priced; Spend is the bill (AWS Cost Explorer), Usage
	// the meter (embedded); RefreshPrices reads the AWS Price List API
	// into the table (AWS, on a schedule). Nil parts: no estimates, no
	// spend report.
	Prices        Prices
	Layout        Layout
	Spend         SpendSource
	Usage         UsageStore
	RefreshPrices func(ctx context.Context) error
	// Budgets are the operator's budgets (budget.go), validated; none:
	// no budget applies. LoadBudgets, when set, reads them at first use
	// instead (an S3 object: a cold start makes no AWS call).
	Budgets     []Budget
	LoadBudgets func(ctx context.Context) ([]Budget, error)
}
