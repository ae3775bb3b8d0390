// Package api holds the wire shapes of the provisioner's HTTP API, shared by
// the server (package http) and its Go client (package client) so the two
// cannot disagree. openapi.yaml beside this file describes the same shapes;
// the server's tests check its answers against it.
package api

import (
	"time"

	"provisioner"
)

// Error is the one shape of every error answer.
type Error struct {
	Status      string `json:"status"` // always "failure"
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Metadata describes a jwt_user; times are Unix seconds, as the SlideRule
// Python client reads metadata.exp to plan its refresh.
type Metadata struct {
	Subject   string   `json:"sub"`
	UID       int64    `json:"uid"`
	Level     string   `json:"level"`
	Org       string   `json:"org,omitempty"`
	OrgRoles  []string `json:"org_roles"`
	Issuer    string   `json:"iss"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
	ID        string   `json:"jti"`
}

// MetadataOf returns the wire form of verified claims: production's
// metadata (sub, aud, org_roles, org, iat, exp, iss) and ours.
func MetadataOf(c provisioner.Claims) Metadata {
	roles := c.OrgRoles
	if roles == nil {
		roles = []string{}
	}
	return Metadata{Subject: c.Subject, UID: c.UID, Level: c.Level.String(), Org: c.Org,
		OrgRoles: roles, Issuer: c.Issuer, Audience: c.Audience, IssuedAt: c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(), ExpiresAt: c.ExpiresAt.Unix(), ID: c.ID}
}

// Login is the answer to every successful login.
type Login struct {
	Status   string   `json:"status"`
	Token    string   `json:"token"`
	Metadata Metadata `json:"metadata"`
}

// Whoami is the answer to GET /auth/whoami.
type Whoami struct {
	Status   string   `json:"status"`
	Metadata Metadata `json:"metadata"`
}

// Device is the answer to the start of a device flow.
type Device struct {
	Status string `json:"status"`
	provisioner.DeviceCode
}

// Pending is the 202 answer to a device poll the user has not approved yet.
type Pending struct {
	Status   string `json:"status"` // "pending"
	Error    string `json:"error"`  // authorization_pending or slow_down
	Interval int    `json:"interval"`
}

// ClusterRequest names one cluster.
type ClusterRequest struct {
	Cluster string `json:"cluster"`
}

// RegisterRequest registers a cluster; IsPublic is required.
type RegisterRequest struct {
	Cluster  string `json:"cluster"`
	IsPublic *bool  `json:"is_public"`
}

// Access carries a jwt_cluster.
type Access struct {
	Status    string    `json:"status"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Clusters is the answer to GET /clusters, our list of clusters.
type Clusters struct {
	Status   string   `json:"status"`
	Clusters []Status `json:"clusters"`
}

// ClusterReport is one cluster in production's POST /report/clusters, a
// map keyed by cluster name. Users holds its user node groups by user.
type ClusterReport struct {
	AutoShutdown *string               `json:"auto_shutdown"`
	CurrentNodes int                   `json:"current_nodes"`
	Version      string                `json:"version"`
	IsPublic     Flag                  `json:"is_public"`
	NodeCapacity Count                 `json:"node_capacity"`
	Users        map[string]UserReport `json:"users"`
}

// UserReport is one user node group in a ClusterReport.
type UserReport struct {
	AutoShutdown *string `json:"auto_shutdown"`
	CurrentNodes int     `json:"current_nodes"`
}

// ReportOf returns a cluster's entry in production's cluster report.
func ReportOf(c provisioner.Cluster) ClusterReport {
	s := StatusOf(c)
	return ClusterReport{AutoShutdown: s.AutoShutdown, CurrentNodes: s.CurrentNodes, Version: s.Version,
		IsPublic: s.IsPublic, NodeCapacity: s.NodeCapacity, Users: map[string]UserReport{}}
}

// Info is production's UserInfo, the answer of POST /info.
type Info struct {
	Username           string   `json:"username"`
	OrgRoles           []string `json:"orgRoles"`
	KnownClusters      []string `json:"knownClusters"`
	DeployableClusters []string `json:"deployableClusters"`
	MaxNodes           int      `json:"maxNodes"`
	MaxTTL             int      `json:"maxTTL"` // minutes
}

// Audit is the answer to GET /audit.
type Audit struct {
	Status  string                   `json:"status"`
	Entries []provisioner.AuditEntry `json:"entries"`
}

// DeployRequest is DEPLOY's body as the SlideRule Python client sends it;
// ttl is in minutes.
type DeployRequest struct {
	Cluster      string `json:"cluster"`
	IsPublic     bool   `json:"is_public"`
	NodeCapacity int    `json:"node_capacity"`
	TTL          int    `json:"ttl"`
	Version      string `json:"version"`
	// Team (ours) shares the cluster with a team of the organization.
	Team string `json:"team,omitempty"`
	// DryRun (ours) checks the request and answers its estimated cost
	// (DeployPlan) without deploying anything.
	DryRun bool `json:"dry_run,omitempty"`
}

// ExtendRequest keeps a cluster ttl more minutes from now.
type ExtendRequest struct {
	Cluster string `json:"cluster"`
	TTL     int    `json:"ttl"`
}

// ScheduleRequest moves a cluster's destroy to Time (RFC 3339).
type ScheduleRequest struct {
	Cluster string `json:"cluster"`
	Time    string `json:"time"`
}

// Status is a cluster's state as STATUS reports it: production's fields
// (response, auto_shutdown, current_nodes, version, is_public, node_capacity,
// the last two strings as production's tags are) beside ours.
type Status struct {
	Status       string `json:"status"`
	Cluster      string `json:"cluster"`
	State        string `json:"state"`
	IsPublic     Flag   `json:"is_public"`
	NodeCapacity Count  `json:"node_capacity"`
	Version      string `json:"version,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
	CreatedBy    string `json:"created_by,omitempty"`
	Team         string `json:"team,omitempty"`
	// NextNotice is when the next notice before the destroy goes out to
	// the notice sinks; absent when none will (auto_shutdown stays the
	// destroy time).
	NextNotice time.Time `json:"next_notice,omitzero"`
	DeploymentStatus
	// EstimatedCost (ours) is set in the answers of DEPLOY and EXTEND.
	EstimatedCost *provisioner.Estimate `json:"estimated_cost,omitempty"`
	// Budget (ours) is set in those answers when a budget cut the TTL.
	Budget *BudgetNote `json:"budget,omitempty"`
}

// DeploymentStatus is what the STATUS of a cluster and of a node group
// share, their last fields: our times, operation and reason, then
// production's (the stack's description, the next auto-shutdown,
// destroy_at or null when none, and the nodes running).
type DeploymentStatus struct {
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	DestroyAt time.Time `json:"destroy_at,omitzero"`
	Operation string    `json:"operation,omitempty"`
	Reason    string    `json:"reason,omitempty"`

	Response     *Stack  `json:"response,omitempty"`
	AutoShutdown *string `json:"auto_shutdown"`
	CurrentNodes int     `json:"current_nodes"`
}

// Stack is production's "response" of STATUS, the part of a CloudFormation
// stack description that the released CLI prints.
type Stack struct {
	StackName    string `json:"StackName"`
	StackStatus  string `json:"StackStatus"`
	CreationTime string `json:"CreationTime,omitempty"`
}

// stackStatus is a cluster state as the CloudFormation stack status that
// production would report for it.
var stackStatus = map[provisioner.ClusterState]string{
	provisioner.StateDeploying:  "CREATE_IN_PROGRESS",
	provisioner.StateRunning:    "CREATE_COMPLETE",
	provisioner.StateDestroying: "DELETE_IN_PROGRESS",
	provisioner.StateFailed:     "CREATE_FAILED",
}

// isoTime is production's time format (ISO 8601 with an offset, whole
// seconds), which the released CLI parses with datetime.fromisoformat.
func isoTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// StatusOf returns the wire form of a cluster's status.
func StatusOf(c provisioner.Cluster) Status {
	return Status{Status: "success", Cluster: c.Name, State: string(c.State), IsPublic: Flag(c.IsPublic),
		NodeCapacity: Count(c.NodeCapacity), Version: c.Version, Endpoint: c.Endpoint, CreatedBy: c.CreatedBy, Team: c.Team,
		DeploymentStatus: deploymentStatus(c.Name, c.Deployment)}
}

// deploymentStatus is the status of d, whose stack production names
// stack. destroy_at (and production's auto_shutdown) is when its one
// destroy schedule fires. current_nodes is the capacity of a running
// cluster or group, else 0.
func deploymentStatus(stack string, d provisioner.Deployment) DeploymentStatus {
	s := DeploymentStatus{CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), DestroyAt: d.DestroyTime().UTC(),
		Operation: d.Operation, Reason: d.Reason}
	if st, ok := stackStatus[d.State]; ok {
		s.Response = &Stack{StackName: stack, StackStatus: st}
		if !d.CreatedAt.IsZero() {
			s.Response.CreationTime = isoTime(d.CreatedAt)
		}
	}
	if t := d.DestroyTime(); !t.IsZero() && d.State != provisioner.StateAbsent {
		v := isoTime(t)
		s.AutoShutdown = &v
	}
	if d.State == provisioner.StateRunning {
		s.CurrentNodes = d.NodeCapacity
	}
	return s
}

// PendingOp is the 202 answer of a long request still in flight.
type PendingOp struct {
	Status    string                `json:"status"` // "pending"
	Operation provisioner.Operation `json:"operation"`
	// EstimatedCost (ours) is set when the operation deploys.
	EstimatedCost *provisioner.Estimate `json:"estimated_cost,omitempty"`
	// Budget (ours) is set when a budget cut the deployment's TTL.
	Budget *BudgetNote `json:"budget,omitempty"`
}

// OperationResult is the answer of GET /operations/{id}: status is
// "success", "failure" (with error and error_description) or "pending".
type OperationResult struct {
	Status      string                `json:"status"`
	Error       string                `json:"error,omitempty"`
	Description string                `json:"error_description,omitempty"`
	Operation   provisioner.Operation `json:"operation"`
}

// Events is the answer of POST /events.
type Events struct {
	Status  string              `json:"status"`
	Cluster string              `json:"cluster"`
	Events  []provisioner.Event `json:"events"`
}

// JobRequest starts a TEST or RELEASE. For TEST every field is optional:
// branch is production's name for version (default main), and the cluster
// defaults to the configured test cluster.
type JobRequest struct {
	Cluster string `json:"cluster"`
	Version string `json:"version"`
	Branch  string `json:"branch,omitempty"`
}

// TestReportRequest asks production's POST /report/tests for a branch
// (default main).
type TestReportRequest struct {
	Branch string `json:"branch"`
}

// TestReport is the answer of POST /report/tests: the latest finished TEST
// of a branch. Status is a boolean, true only if it passed, as production's
// workflows check (.status == true, .date within a day).
type TestReport struct {
	Status  bool                     `json:"status"`
	Date    time.Time                `json:"date"` // when the TEST finished
	Branch  string                   `json:"branch"`
	Result  provisioner.JobState     `json:"result"`
	Reason  string                   `json:"reason,omitempty"`
	Job     string                   `json:"job"`
	Cluster string                   `json:"cluster"`
	Steps   []provisioner.StepResult `json:"steps"`
	Log     string                   `json:"log"` // the job's log, GET with an admin token
}

// TestHistory is the answer of GET /report/tests?branch=&limit=: the
// branch's last finished TESTs, newest first, and the tests they flag.
type TestHistory struct {
	Status  string     `json:"status"` // "success"
	Branch  string     `json:"branch"`
	Runs    []TestRun  `json:"runs"`
	Flaky   []TestFlag `json:"flaky"`
	Failing []TestFlag `json:"failing"`
}

// TestRun is one TEST in a history. Commit is the commit its checkout
// resolved the branch to, empty when the runner did not report it.
type TestRun struct {
	Job     string                   `json:"job"`
	Date    time.Time                `json:"date"` // when the TEST finished
	Version string                   `json:"version"`
	Commit  string                   `json:"commit,omitempty"`
	Result  provisioner.JobState     `json:"result"`
	Reason  string                   `json:"reason,omitempty"`
	Steps   []provisioner.StepResult `json:"steps"`
}

// TestFlag is a flaky or failing test: Test is empty when the step itself
// failed with no failed test named.
type TestFlag struct {
	Test     string `json:"test"`
	Step     string `json:"step"`
	Evidence string `json:"evidence"`
}

// JobStarted is the 202 answer to TEST and RELEASE: the job is the
// operation to wait for, at GET /jobs/{id}.
type JobStarted struct {
	Status    string          `json:"status"` // "pending"
	Operation string          `json:"operation"`
	Job       provisioner.Job `json:"job"`
}

// JobResult is the answer of GET /jobs/{id} and POST /jobs/{id}/cancel.
type JobResult struct {
	Status string          `json:"status"` // "success"
	Job    provisioner.Job `json:"job"`
}

// Jobs is the answer of GET /jobs.
type Jobs struct {
	Status string            `json:"status"`
	Jobs   []provisioner.Job `json:"jobs"`
}

// AuditExportRequest exports the audit entries since a time (RFC 3339).
type AuditExportRequest struct {
	Since string `json:"since"`
}

// AuditExport tells where an export went.
type AuditExport struct {
	Status  string `json:"status"`
	Key     string `json:"key"`
	Entries int    `json:"entries"`
}

// GroupStatus is a user node group's state as STATUS of
// /status/{username} reports it: production's fields (response,
// auto_shutdown, current_nodes) beside ours.
type GroupStatus struct {
	Status       string `json:"status"`
	Cluster      string `json:"cluster"`
	User         string `json:"user"`
	State        string `json:"state"`
	NodeCapacity int    `json:"node_capacity"`
	CreatedBy    string `json:"created_by,omitempty"`
	DeploymentStatus
	// EstimatedCost (ours) is set in the answers of DEPLOY and EXTEND.
	EstimatedCost *provisioner.Estimate `json:"estimated_cost,omitempty"`
	// Budget (ours) says how a budget cut the TTL a DEPLOY or EXTEND
	// asked; nil when none did.
	Budget *BudgetNote `json:"budget,omitempty"`
}

// GroupStackName is the name production gives a user node group's stack
// (userasg.yml): "<cluster>-cluster-<user>-asg".
func GroupStackName(cluster, user string) string { return cluster + "-cluster-" + user + "-asg" }

// GroupStatusOf returns the wire form of a node group's status.
func GroupStatusOf(g provisioner.NodeGroup) GroupStatus {
	return GroupStatus{Status: "success", Cluster: g.Cluster, User: g.User, State: string(g.State),
		NodeCapacity: g.NodeCapacity, CreatedBy: g.CreatedBy,
		DeploymentStatus: deploymentStatus(GroupStackName(g.Cluster, g.User), g.Deployment)}
}

// UserReportOf is a node group's entry in a ClusterReport's users.
func UserReportOf(g provisioner.NodeGroup) UserReport {
	s := GroupStatusOf(g)
	return UserReport{AutoShutdown: s.AutoShutdown, CurrentNodes: s.CurrentNodes}
}

// GroupEvents is the answer of POST /events/{username}.
type GroupEvents struct {
	Status  string              `json:"status"`
	Cluster string              `json:"cluster"`
	User    string              `json:"user"`
	Events  []provisioner.Event `json:"events"`
}
