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
}
