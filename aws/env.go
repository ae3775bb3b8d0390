package aws

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provisioner"
	"provisioner/aws/kms"
	"provisioner/aws/s3"
	"provisioner/budgets"
	"provisioner/github"
	"provisioner/notify"
)

// envVar is one environment variable of the provisioner Lambda: its name,
// whether it must be set, what it means, and where it goes in Config.
type envVar struct {
	Name     string
	Required bool
	Doc      string
	set      func(c *Config, v string) error
}

// str sets a string field.
func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

// list sets a comma-separated list, blanks dropped.
func list(f func(c *Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*f(c) = append(*f(c), s)
			}
		}
		return nil
	}
}

// hosts sets a list of redirect hosts, separated by commas or spaces as
// production's variables are.
func hosts(f func(c *Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		list := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		for _, h := range list {
			if strings.ContainsAny(h, "/:@") || strings.HasPrefix(h, ".") {
				return fmt.Errorf("%q is not a host name (want example.org, not a URL)", h)
			}
		}
		*f(c) = list
		return nil
	}
}

func retention(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := provisioner.ParseRetention(v)
		if err == nil && d == 0 {
			d = -1 // "forever", not "the default"
		}
		*f(c) = d
		return err
	}
}

func boolean(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*f(c) = b
		return nil
	}
}

// Env is every variable FromEnv reads, in the order of the table in
// deploy/README.md (a test keeps the two the same). deploy/provisioner.yaml
// sets them on the Lambda.
var Env = []envVar{
	// The service.
	{"PROVISIONER_PREFIX", true, "name prefix of every stack, schedule and tag this provisioner owns", str(func(c *Config) *string { return &c.Prefix })},
	{"PROVISIONER_ISSUER", true, "the provisioner's public URL: the tokens' `iss`", str(func(c *Config) *string { return &c.Issuer })},
	{"PROVISIONER_DOMAIN", true, "clusters are reached at CLUSTER.DOMAIN", str(func(c *Config) *string { return &c.Domain })},
	{"PROVISIONER_TABLE", true, "the DynamoDB table (aws/dynamodb/schema.go)", str(func(c *Config) *string { return &c.Table })},
	{"PROVISIONER_LOG_BUCKET", true, "S3 bucket of job logs and job objects", str(func(c *Config) *string { return &c.LogBucket })},
	{"PROVISIONER_KMS_KEY_IDS", true, "KMS RSA_2048 keys, comma-separated, the signing key first", func(c *Config, v string) error { c.KMSKeyIDs = kms.ParseKeyIDs(v); return nil }},
	{"PROVISIONER_AWS_ENDPOINT", false, "one endpoint for every AWS API (an emulator; tests only)", str(func(c *Config) *string { return &c.Endpoint })},
	{"PROVISIONER_AUDIT_RETENTION", false, "how long audit entries are kept (90d, 36h, forever); default the table's", retention(func(c *Config) *time.Duration { return &c.AuditRetention })},
	{"PROVISIONER_EVENT_RETENTION", false, "how long cluster events are kept (30d, 36h, forever); default the table's", retention(func(c *Config) *time.Duration { return &c.EventRetention })},
	{"PROVISIONER_PUBLIC_CLUSTER", false, `the cluster production's alias "sliderule" names on node group paths; empty: the only public cluster running`, func(c *Config, v string) error {
		if v != "" {
			if err := provisioner.ValidateClusterName(v); err != nil {
				return fmt.Errorf("%s", provisioner.ErrorMessage(err))
			}
		}
		c.PublicCluster = v
		return nil
	}},

	// Clusters (deploy/cluster.yaml) and node groups (deploy/userasg.yaml).
	{"PROVISIONER_CLUSTER_TEMPLATE_URL", true, "S3 URL of deploy/cluster.yaml", str(func(c *Config) *string { return &c.ClusterTemplateURL })},
	{"PROVISIONER_GROUP_TEMPLATE_URL", false, "S3 URL of deploy/userasg.yaml; empty: node group paths answer 503", str(func(c *Config) *string { return &c.GroupTemplateURL })},
	{"PROVISIONER_CLUSTER_STACK_ROLE_ARN", false, "role CloudFormation assumes for cluster and node group stacks", str(func(c *Config) *string { return &c.ClusterStackRoleARN })},
	{"PROVISIONER_HOSTED_ZONE_ID", false, "Route 53 zone of DOMAIN (the cluster template's HostedZoneId)", str(func(c *Config) *string { return &c.HostedZoneID })},
	{"PROVISIONER_IMAGE_REGISTRY", false, "container registry of the SlideRule images; also REGISTRY of RELEASE", str(func(c *Config) *string { return &c.ImageRegistry })},
	{"PROVISIONER_PROJECT_BUCKET", false, "SlideRule's project bucket (cluster data; the affiliates file's default bucket)", str(func(c *Config) *string { return &c.ProjectBucket })},
	{"PROVISIONER_CLUSTER_ROLE_BOUNDARY_ARN", false, "permissions boundary of the roles a cluster stack creates", str(func(c *Config) *string { return &c.ClusterRoleBoundaryARN })},
	{"PROVISIONER_CLUSTER_VPC_ID", false, "an existing VPC for clusters; empty: each cluster gets its own", str(func(c *Config) *string { return &c.VPCID })},
	{"PROVISIONER_CLUSTER_PUBLIC_SUBNET_ID", false, "public subnet in that VPC", str(func(c *Config) *string { return &c.PublicSubnetID })},
	{"PROVISIONER_CLUSTER_PRIVATE_SUBNET_ID", false, "private subnet in that VPC", str(func(c *Config) *string { return &c.PrivateSubnetID })},
	{"PROVISIONER_CLUSTER_RELEASE_URL", false, "unused by deploy/cluster.yaml (its load balancer runs no gateway); still accepted", str(func(c *Config) *string { return &c.ClusterReleaseURL })},
	{"PROVISIONER_CLUSTER_RELEASE_SHA256", false, "checksum of that release; still accepted", str(func(c *Config) *string { return &c.ClusterReleaseSHA256 })},

	// The destroy schedules (EventBridge Scheduler).
	{"PROVISIONER_SCHEDULE_GROUP", true, "the schedule group of destroy schedules", str(func(c *Config) *string { return &c.ScheduleGroup })},
	{"PROVISIONER_FUNCTION_ARN", true, "this Lambda: the schedules' target", str(func(c *Config) *string { return &c.FunctionARN })},
	{"PROVISIONER_SCHEDULER_ROLE_ARN", true, "role the scheduler assumes to invoke the Lambda", str(func(c *Config) *string { return &c.SchedulerRoleARN })},
	{"PROVISIONER_DLQ_ARN", false, "SQS queue of schedules that could not be delivered", str(func(c *Config) *string { return &c.DeadLetterARN })},
	{"PROVISIONER_SCHEDULE_MAX_RETRIES", false, "delivery retries of a schedule, 0-185", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 185 {
			return fmt.Errorf("%q: want 0 to 185", v)
		}
		if n == 0 {
			n = -1 // the scheduler's "no retries"
		}
		c.ScheduleMaxRetries = n
		return nil
	}},
	{"PROVISIONER_SCHEDULE_MAX_EVENT_AGE", false, "how long a schedule's delivery is retried (a Go duration)", func(c *Config, v string) (err error) {
		c.ScheduleMaxEventAge, err = time.ParseDuration(v)
		return err
	}},

	// GitHub: LOGIN, the device flow, Actions, membership.
	{"PROVISIONER_GITHUB_API_URL", false, "GitHub's REST API (default https://api.github.com; GHE: https://HOST/api/v3)", str(func(c *Config) *string { return &c.GitHub.APIURL })},
	{"PROVISIONER_GITHUB_URL", false, "GitHub's web root, for the device flow (default https://github.com)", str(func(c *Config) *string { return &c.GitHub.WebURL })},
	{"PROVISIONER_GITHUB_ORG", false, "the organization whose members are members; empty: everybody, nobody an admin", str(func(c *Config) *string { return &c.GitHub.Org })},
	{"PROVISIONER_ADMIN_TEAM", false, "team of the organization whose members are admins", str(func(c *Config) *string { return &c.GitHub.AdminTeam })},
	{"PROVISIONER_ALLOWED_TEAMS", false, "teams (comma-separated) that alone make members", list(func(c *Config) *[]string { return &c.GitHub.AllowedTeams })},
	{"PROVISIONER_GITHUB_CLIENT_ID", false, "OAuth app client id; enables the device flow", str(func(c *Config) *string { return &c.GitHub.ClientID })},
	{"PROVISIONER_GITHUB_CLIENT_SECRET", false, "the OAuth app's secret; with the client id, enables the OAuth authorization server (docs/oauth.md)", str(func(c *Config) *string { return &c.GitHub.ClientSecret })},
	{"PROVISIONER_OAUTH_TRUSTED_HOSTS", false, "redirect hosts (and their subdomains) of first-party web clients and the basic login, comma- or space-separated", hosts(func(c *Config) *[]string { return &c.OAuthTrustedHosts })},
	{"PROVISIONER_OAUTH_THIRD_PARTY_HOSTS", false, "redirect hosts of third-party (MCP) clients, which get the MCP scopes only", hosts(func(c *Config) *[]string { return &c.OAuthThirdPartyHosts })},
	{"PROVISIONER_ACTIONS_ISSUER", false, "OIDC issuer of Actions ID tokens (default GitHub's)", str(func(c *Config) *string { return &c.GitHub.ActionsIssuer })},
	{"PROVISIONER_ACTIONS_AUDIENCE", false, "the `aud` workflows request; enables Actions login", str(func(c *Config) *string { return &c.GitHub.ActionsAudience })},
	{"PROVISIONER_ACTIONS_RULES", false, "workflow-to-level rules (github.ParseActionsRules)", func(c *Config, v string) (err error) {
		c.GitHub.ActionsRules, err = github.ParseActionsRules(v)
		return err
	}},
	{"PROVISIONER_GITHUB_LOGIN_CACHE", false, "how long a PAT login's answer from GitHub, and the jwt_user it issued to a member, are reused for the same token (a Go duration, at most 5m; default 10s, 0 off)", func(c *Config, v string) (err error) {
		c.GitHub.LoginCache, err = time.ParseDuration(v)
		return err
	}},
	{"PROVISIONER_GITHUB_TOKEN", false, "operator token (read:org); with the organization, enables the membership re-check", str(func(c *Config) *string { return &c.GitHub.MemberToken })},
	{"PROVISIONER_AFFILIATES", false, "production's affiliates file: s3://BUCKET/KEY, or a KEY in the project bucket", func(c *Config, v string) error {
		if strings.HasPrefix(v, "s3://") {
			if _, _, err := s3.ParseObjectURL(v); err != nil {
				return err
			}
		}
		c.Affiliates = v
		return nil
	}},

	// Request signatures.
	{"PROVISIONER_SIGNATURE_POLICY", false, "who must sign state-changing calls: off (default), owners or everyone", func(c *Config, v string) (err error) {
		if c.SignaturePolicy, err = provisioner.ParseSignaturePolicy(v); err != nil {
			return fmt.Errorf("%s", provisioner.ErrorMessage(err))
		}
		return nil
	}},
	{"PROVISIONER_SIGNING_KEYS", false, `the signing keys: "login ssh-ed25519 AAAA..." lines or production's pubkeys JSON`, str(func(c *Config) *string { return &c.SigningKeys })},
	{"PROVISIONER_SIGNING_KEYS_OBJECT", false, "key of an object in the log bucket holding the same, read again at most once a minute", str(func(c *Config) *string { return &c.SigningKeysObject })},
	{"PROVISIONER_SIGNING_KEYS_GITHUB", false, "true: also the ed25519 keys users publish on GitHub", boolean(func(c *Config) *bool { return &c.SigningKeysGitHub })},

	// TEST and RELEASE (deploy/runner.yaml).
	{"PROVISIONER_SLIDERULE_REPO", false, "the sliderule repository jobs check out; empty disables TEST and RELEASE", str(func(c *Config) *string { return &c.SlideruleRepo })},
	{"PROVISIONER_TEST_CLUSTER", false, "the cluster a TEST that names none runs against", str(func(c *Config) *string { return &c.TestCluster })},
	{"PROVISIONER_PLANS", false, "plans overriding the built-in ones (a path in the bundle)", str(func(c *Config) *string { return &c.Plans })},
	{"PROVISIONER_RUNNER_TEMPLATE_URL", false, "S3 URL of deploy/runner.yaml", str(func(c *Config) *string { return &c.RunnerTemplateURL })},
	{"PROVISIONER_RUNNER_STACK_ROLE_ARN", false, "role CloudFormation assumes for job stacks", str(func(c *Config) *string { return &c.RunnerStackRoleARN })},
	{"PROVISIONER_JOB_INSTANCE_PROFILE_ARN", false, "instance profile of TEST machines", str(func(c *Config) *string { return &c.JobInstanceProfileARN })},
	{"PROVISIONER_JOB_RELEASE_INSTANCE_PROFILE_ARN", false, "instance profile of RELEASE machines (may push images)", str(func(c *Config) *string { return &c.ReleaseInstanceProfileARN })},
	{"PROVISIONER_JOB_SUBNET_ID", false, "subnet of job machines", str(func(c *Config) *string { return &c.JobSubnetID })},
	{"PROVISIONER_JOB_SECURITY_GROUP_IDS", false, "security groups of job machines, comma-separated", list(func(c *Config) *[]string { return &c.JobSecurityGroupIDs })},
	{"PROVISIONER_JOB_INSTANCE_TYPE", false, "instance type of job machines (default the runner's)", str(func(c *Config) *string { return &c.JobInstanceType })},
	{"PROVISIONER_JOB_SECRETS_OBJECT", false, "key of an object in the log bucket of NAME=VALUE job secrets", str(func(c *Config) *string { return &c.JobSecretsObject })},

	// Costs (aws/costs.go).
	{"PROVISIONER_PRICES", false, "the operator's price table override: s3://BUCKET/KEY, or a KEY in the project bucket", func(c *Config, v string) error {
		if strings.HasPrefix(v, "s3://") {
			if _, _, err := s3.ParseObjectURL(v); err != nil {
				return err
			}
		}
		c.Prices = v
		return nil
	}},
	{"PROVISIONER_BUDGETS", false, `the operator's budgets (README "Budgets"): inline JSON {"budgets": [...]}, checked at start, or s3://BUCKET/KEY or a KEY in the project bucket, read at first use`, func(c *Config, v string) error {
		switch v = strings.TrimSpace(v); {
		case strings.HasPrefix(v, "{"):
			if _, err := budgets.Parse([]byte(v)); err != nil {
				return err
			}
		case strings.HasPrefix(v, "s3://"):
			if _, _, err := s3.ParseObjectURL(v); err != nil {
				return err
			}
		}
		c.Budgets = v
		return nil
	}},
	{"PROVISIONER_COST_EXPLORER", false, "false: no spend from Cost Explorer (each request costs USD 0.01; a report asks two, kept an hour); default true", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.NoCostExplorer = !b
		return nil
	}},

	// Notices (README: Notices).
	{"PROVISIONER_NOTICE_WEBHOOK_URL", false, "send notices as signed JSON to this URL", str(func(c *Config) *string { return &c.Notify.WebhookURL })},
	{"PROVISIONER_NOTICE_WEBHOOK_SECRET", false, "the webhook's HMAC secret, at least 16 bytes", str(func(c *Config) *string { return &c.Notify.WebhookSecret })},
	{"PROVISIONER_NOTICE_SLACK_URL", false, "send notices to this Slack-compatible incoming webhook", str(func(c *Config) *string { return &c.Notify.SlackURL })},
	{"PROVISIONER_NOTICE_EMAIL_FROM", false, "sender of email notices, an SES-verified identity", str(func(c *Config) *string { return &c.Notify.EmailFrom })},
	{"PROVISIONER_NOTICE_EMAIL_TO", false, "operator addresses that get email notices through SES, comma-separated", list(func(c *Config) *[]string { return &c.Notify.EmailTo })},
	{"PROVISIONER_NOTICE_LEADS", false, "when notices go out before a scheduled destroy (default 60m,10m; none)", func(c *Config, v string) (err error) {
		if c.Notify.Leads, err = provisioner.ParseNoticeLeads(v); err != nil {
			return fmt.Errorf("%s", provisioner.ErrorMessage(err))
		}
		return nil
	}},
	{"PROVISIONER_NOTICE_OWNERS", false, "true (default): email notices about a cluster to its owner too, at their public GitHub address", boolean(func(c *Config) *bool { return &c.Notify.Owners })},
	{"PROVISIONER_DASHBOARD_URL", false, "base URL of the dashboard notices link to (URL/#/clusters/NAME): default the issuer's; none for no link", str(func(c *Config) *string { return &c.Notify.DashboardURL })},
}

// FromEnv reads a Config from the environment (getenv is os.Getenv on the
// Lambda). It names every required variable missing and every bad value.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{SignaturePolicy: provisioner.SignaturesOff, GitHub: github.Config{LoginCache: 10 * time.Second},
		Notify: notify.Config{Leads: slices.Clone(notify.DefaultLeads), Owners: true}}
	var missing, bad []string
	for _, e := range Env {
		v := getenv(e.Name)
		if v == "" {
			if e.Required {
				missing = append(missing, e.Name)
			}
			continue
		}
		if err := e.set(&c, v); err != nil {
			bad = append(bad, e.Name+": "+err.Error())
		}
	}
	if len(missing) > 0 {
		bad = append([]string{"not set: " + strings.Join(missing, ", ")}, bad...)
	}
	if len(bad) > 0 {
		return Config{}, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return c, nil
}
