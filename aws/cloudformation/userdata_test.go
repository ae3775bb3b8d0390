package cloudformation_test

// Renders the instances' user data of deploy/cluster.yaml with test
// parameter values (a small evaluator of the intrinsic functions the
// template uses) and checks it against production's boot scripts
// (apps/provisioner/ilb.sh, node.sh, monitor.sh in the SlideRule reference
// files): the compose services, their images, commands, environment names,
// volumes and ports; the env file every value comes from; the token key
// download and refresh; and the security groups.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"provisioner/testkit"
)

// Test values for the rendering: what the provisioner and an operator pass.
const (
	tIlbPrivateIP = "10.0.128.5"
	tIssuer       = "https://provisioner.testing.sliderule.org"
	tRegistry     = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
	tVersion      = "v4.5.1"
	tNodeIP       = "10.0.7.9" // what a node finds in its instance metadata
	tUser         = "Alice-1"  // a node group's user
)

func renderParams(t *testing.T, tpl *yaml.Node) map[string]string {
	t.Helper()
	p := map[string]string{}
	params := mapGet(tpl, "Parameters")
	for i := 0; i+1 < len(params.Content); i += 2 {
		if d := mapGet(params.Content[i+1], "Default"); d != nil {
			p[params.Content[i].Value] = d.Value
		}
	}
	for k, v := range map[string]string{
		"ClusterName": "demo", "NodeCapacity": "3", "Version": tVersion, "IsPublic": "false",
		"CreatedBy": "alice", "ExpiresAt": "2030-01-02T03:04:05Z", "Domain": "testing.sliderule.org",
		"HostedZoneId": "Z0123456789ABCDEFGHIJ", "ProvisionerURL": tIssuer, "ImageRegistry": tRegistry,
		"ProjectBucket": "sliderule-test-project",
		"AWS::Region":   "us-west-2", "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
		"LoadBalancerInstance.PrivateIp": tIlbPrivateIP, "LoadBalancerInstance.PublicIp": "203.0.113.7",
		// userasg.yaml's own: the group's user, the cluster's outputs.
		"Username": tUser, "OrchestratorIp": tIlbPrivateIP, "SubnetId": "subnet-0123456789abcdef1",
		"NodeSecurityGroupId": "sg-0123456789abcdef0", "NodeInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/p-demo-NodeInstanceProfile-X",
	} {
		p[k] = v
	}
	return p
}

func parseTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(readTemplate(t)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// mapGet returns the value of key in mapping node m, or nil.
func mapGet(m *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				next = m.Content[i+1]
			}
		}
		m = next
	}
	return m
}

// evaluator resolves the intrinsic functions the template's user data and
// security groups use, in short (!Sub) and long (Fn::Sub) form.
type evaluator struct {
	t      *testing.T
	params map[string]string // parameters, pseudo parameters, "Resource.Attr"
}

var subRE = regexp.MustCompile(`\$\{(!?)([A-Za-z0-9:._]+)\}`)

func (e *evaluator) eval(n *yaml.Node) any {
	e.t.Helper()
	fn, arg := "", n
	switch {
	case strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!"):
		fn = strings.TrimPrefix(n.Tag, "!")
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && (n.Content[0].Value == "Ref" || strings.HasPrefix(n.Content[0].Value, "Fn::")):
		fn, arg = strings.TrimPrefix(n.Content[0].Value, "Fn::"), n.Content[1]
	}
	switch fn {
	case "":
		switch n.Kind {
		case yaml.ScalarNode:
			return n.Value
		case yaml.SequenceNode:
			out := []any{}
			for _, c := range n.Content {
				out = append(out, e.eval(c))
			}
			return out
		}
		e.t.Fatalf("line %d: cannot evaluate a plain mapping", n.Line)
	case "Ref":
		v, ok := e.params[arg.Value]
		if !ok {
			return "REF:" + arg.Value // a resource's id
		}
		return v
	case "GetAtt":
		name := arg.Value
		if arg.Kind == yaml.SequenceNode {
			name = arg.Content[0].Value + "." + arg.Content[1].Value
		}
		if v, ok := e.params[name]; ok {
			return v
		}
		return "GETATT:" + name
	case "Base64":
		return e.str(arg)
	case "Join":
		var parts []string
		for _, p := range e.eval(arg.Content[1]).([]any) {
			parts = append(parts, p.(string))
		}
		return strings.Join(parts, arg.Content[0].Value)
	case "Split":
		return toAny(strings.Split(e.str(arg.Content[1]), arg.Content[0].Value))
	case "Select":
		var i int
		fmt.Sscan(e.str(arg.Content[0]), &i)
		return e.eval(arg.Content[1]).([]any)[i]
	case "Sub":
		text, local := arg, map[string]string{}
		if arg.Kind == yaml.SequenceNode {
			text = arg.Content[0]
			vars := arg.Content[1]
			for i := 0; i+1 < len(vars.Content); i += 2 {
				local[vars.Content[i].Value] = e.str(vars.Content[i+1])
			}
		}
		return subRE.ReplaceAllStringFunc(text.Value, func(m string) string {
			g := subRE.FindStringSubmatch(m)
			if g[1] == "!" {
				return "${" + g[2] + "}"
			}
			if v, ok := local[g[2]]; ok {
				return v
			}
			if v, ok := e.params[g[2]]; ok {
				return v
			}
			e.t.Fatalf("line %d: ${%s} has no value", text.Line, g[2])
			return ""
		})
	}
	e.t.Fatalf("line %d: function %s not supported by the test evaluator", n.Line, fn)
	return nil
}

func (e *evaluator) str(n *yaml.Node) string {
	e.t.Helper()
	s, ok := e.eval(n).(string)
	if !ok {
		e.t.Fatalf("line %d: not a string", n.Line)
	}
	return s
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// bootScript is one instance's rendered user data.
type bootScript struct {
	text     string
	heredocs map[string]string // file written with cat >FILE <<'SLIDERULE_EOF' -> its text
	env      map[string]string // /etc/sliderule/cluster.env
}

var heredocRE = regexp.MustCompile(`(?ms)^cat >(\S+) <<'SLIDERULE_EOF'\n(.*?)^SLIDERULE_EOF$`)

func renderUserData(t *testing.T, tpl *yaml.Node, path ...string) bootScript {
	t.Helper()
	n := mapGet(mapGet(tpl, "Resources"), path...)
	if n == nil {
		t.Fatalf("no %s in the template", strings.Join(path, "."))
	}
	e := &evaluator{t: t, params: renderParams(t, tpl)}
	s := bootScript{text: e.str(n), heredocs: map[string]string{}, env: map[string]string{}}
	if strings.Contains(s.text, "\r") || !strings.HasPrefix(s.text, "#!/bin/bash\n") {
		t.Fatalf("%s: not a bash script", path[0])
	}
	if n := len(s.text); n > 16<<10 {
		t.Errorf("%s: user data is %d bytes, EC2 allows 16 KB", path[0], n)
	}
	for _, m := range heredocRE.FindAllStringSubmatch(s.text, -1) {
		s.heredocs[m[1]] = m[2]
	}
	envText, ok := s.heredocs["/etc/sliderule/cluster.env"]
	if !ok {
		t.Fatalf("%s writes no /etc/sliderule/cluster.env", path[0])
	}
	for _, line := range strings.Split(strings.TrimSuffix(envText, "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z0-9_]+$`).MatchString(k) {
			t.Fatalf("%s: env file line %q is not KEY=value", path[0], line)
		}
		if strings.ContainsAny(v, "\"'$`\\ \t;&|<>(){}#*?") {
			t.Errorf("%s: env value %s=%q has a character a shell or compose would read", path[0], k, v)
		}
		s.env[k] = v
	}
	checkBash(t, path[0], s.text)
	for file, body := range s.heredocs {
		if strings.HasPrefix(body, "#!/bin/bash\n") {
			checkBash(t, path[0]+":"+file, body)
		}
	}
	return s
}

// checkBash runs bash -n, and shellcheck in a subtest (testkit.Shellcheck).
func checkBash(t *testing.T, name, script string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
		t.Errorf("bash -n %s: %v\n%s", name, err, out)
	}
	// Warnings and errors count. SC2154 is left out: the cfg_* values
	// come from the data file the script sources, which shellcheck
	// cannot follow (the data file is checked on its own).
	t.Run("shellcheck "+name, func(t *testing.T) {
		testkit.Shellcheck(t, []string{"-S", "warning", "-e", "SC2154"}, f)
	})
}

// compose is the part of a compose file the checks compare.
type compose struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		NetworkMode string   `yaml:"network_mode"`
		Command     any      `yaml:"command"`
		Entrypoint  any      `yaml:"entrypoint"`
		Volumes     []string `yaml:"volumes"`
		Environment []string `yaml:"environment"`
		Ulimits     any      `yaml:"ulimits"`
		Healthcheck any      `yaml:"healthcheck"`
		Ports       []string `yaml:"ports"`
	} `yaml:"services"`
}

var composeVarRE = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}|\$([A-Z0-9_]+)`)

// ourCompose interpolates our compose file as docker compose would, from
// the env file (plus extra), refusing any variable the env file lacks.
func (s bootScript) compose(t *testing.T, name string, extra map[string]string) compose {
	t.Helper()
	text, ok := s.heredocs["/etc/sliderule/docker-compose.yml"]
	if !ok {
		t.Fatalf("%s writes no /etc/sliderule/docker-compose.yml", name)
	}
	if !strings.Contains(s.text, "docker compose --project-name cluster --env-file /etc/sliderule/cluster.env -f /etc/sliderule/docker-compose.yml up --detach") {
		t.Errorf("%s does not start the compose file with the env file", name)
	}
	text = composeVarRE.ReplaceAllStringFunc(text, func(m string) string {
		g := composeVarRE.FindStringSubmatch(m)
		k := g[1] + g[2]
		if v, ok := extra[k]; ok {
			return v
		}
		v, ok := s.env[k]
		if !ok {
			t.Errorf("%s: compose uses $%s, which the env file does not set", name, k)
		}
		return v
	})
	var c compose
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("%s compose: %v\n%s", name, err, text)
	}
	return c
}

// productionCompose is the compose file of a production boot script, its
// $VARIABLES replaced by PROD_<name> (or by the given values).
func productionCompose(t *testing.T, script string, values map[string]string) compose {
	t.Helper()
	ref := filepath.Join("..", "..", "..", "shared", "sliderule-ref", "apps", "provisioner", script)
	b, err := os.ReadFile(ref)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SlideRule reference files: %v", err)
		}
		t.Skipf("SlideRule reference files not found: %v", err)
	}
	m := regexp.MustCompile(`(?ms)^cat > docker-compose.yml << EOF\n(.*?)^EOF$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no compose file in %s", script)
	}
	text := composeVarRE.ReplaceAllStringFunc(string(m[1]), func(s string) string {
		g := composeVarRE.FindStringSubmatch(s)
		if v, ok := values[g[1]+g[2]]; ok {
			return v
		}
		return "PROD_" + g[1] + g[2]
	})
	var c compose
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("%s compose: %v", script, err)
	}
	return c
}

func envNames(env []string) []string {
	var out []string
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func envMap(env []string) map[string]string {
	out := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

// sameAsProduction compares every production service but autoheal (which
// the boot script replaces with a systemd timer) with ours: image name and
// tag, network mode, command, entrypoint, volumes, environment names,
// ulimits, health check.
func sameAsProduction(t *testing.T, name string, ours, prod compose) {
	t.Helper()
	for svc, p := range prod.Services {
		if svc == "autoheal" {
			continue
		}
		o, ok := ours.Services[svc]
		if !ok {
			t.Errorf("%s: no service %s (production has it)", name, svc)
			continue
		}
		if want := strings.Replace(p.Image, "PROD_CONTAINER_REGISTRY", tRegistry, 1); o.Image != want {
			t.Errorf("%s/%s: image %q, production %q", name, svc, o.Image, want)
		}
		if o.NetworkMode != p.NetworkMode || fmt.Sprint(o.Command) != fmt.Sprint(p.Command) ||
			fmt.Sprint(o.Entrypoint) != fmt.Sprint(p.Entrypoint) || fmt.Sprint(o.Ulimits) != fmt.Sprint(p.Ulimits) ||
			fmt.Sprint(o.Healthcheck) != fmt.Sprint(p.Healthcheck) || !slices.Equal(o.Ports, p.Ports) {
			t.Errorf("%s/%s differs from production:\n ours %+v\n prod %+v", name, svc, o, p)
		}
		if !slices.Equal(sorted(o.Volumes), sorted(p.Volumes)) {
			t.Errorf("%s/%s volumes %v, production %v", name, svc, o.Volumes, p.Volumes)
		}
		if !slices.Equal(envNames(o.Environment), envNames(p.Environment)) {
			t.Errorf("%s/%s environment %v, production %v", name, svc, envNames(o.Environment), envNames(p.Environment))
		}
	}
	for svc := range ours.Services {
		if _, ok := prod.Services[svc]; !ok {
			t.Errorf("%s: service %s that production does not run", name, svc)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestUserDataLoadBalancer(t *testing.T) {
	tpl := parseTemplate(t)
	s := renderUserData(t, tpl, "LoadBalancerInstance", "Properties", "UserData")
	for k, want := range map[string]string{"CLUSTER": "demo", "IS_PUBLIC": "false", "DOMAIN": "testing.sliderule.org",
		"JWT_ISSUER": tIssuer, "CONTAINER_REGISTRY": tRegistry, "VERSION": tVersion, "REGISTRY_HOST": tRegistry,
		"REGISTRY_REGION": "us-west-2", "PROJECT_BUCKET": "sliderule-test-project", "PROJECT_FOLDER": "cf",
		"PUBKEY_REFRESH_SECONDS": "300"} {
		if s.env[k] != want {
			t.Errorf("env %s=%q, want %q", k, s.env[k], want)
		}
	}
	ours := s.compose(t, "ilb", nil)
	prod := productionCompose(t, "ilb.sh", map[string]string{"VERSION": tVersion})
	sameAsProduction(t, "ilb", ours, prod)
	ilb := ours.Services["ilb"]
	if ilb.NetworkMode != "host" {
		t.Errorf("ilb network_mode %q", ilb.NetworkMode)
	}
	env := envMap(ilb.Environment)
	for k, want := range map[string]string{"IS_PUBLIC": "false", "DOMAIN": "testing.sliderule.org", "CLUSTER": "demo", "JWT_ISSUER": tIssuer} {
		if env[k] != want {
			t.Errorf("ilb %s=%q, want %q", k, env[k], want)
		}
	}
	for _, v := range []string{"/etc/haproxy/pem/:/etc/haproxy/pem/", "/etc/ssl/private:/etc/ssl/private"} {
		if !slices.Contains(ilb.Volumes, v) {
			t.Errorf("ilb has no volume %s", v)
		}
	}
	// The TLS file production copies, and the token key before the ilb starts.
	for _, want := range []string{
		`aws s3 cp --only-show-errors "s3://$cfg_PROJECT_BUCKET/$cfg_PROJECT_FOLDER/$cfg_DOMAIN.pem" "/etc/ssl/private/$cfg_DOMAIN.pem"`,
		"retry systemctl start sliderule-pubkey.service",
		"systemctl enable --now sliderule-pubkey.timer",
	} {
		if !strings.Contains(s.text, want) {
			t.Errorf("ilb boot script lacks %s", want)
		}
	}
	if i, j := strings.Index(s.text, "retry systemctl start sliderule-pubkey.service"), strings.Index(s.text, "up --detach"); i < 0 || j < i {
		t.Error("the token key is not in place before the ilb starts")
	}
	unit := s.heredocs["/etc/systemd/system/sliderule-pubkey.service"]
	if !strings.Contains(unit, "EnvironmentFile=/etc/sliderule/cluster.env") || !strings.Contains(unit, "ExecStart=/usr/local/sbin/sliderule-pubkey") {
		t.Errorf("sliderule-pubkey.service:\n%s", unit)
	}
	if !strings.Contains(s.text, `OnUnitActiveSec=%s`) || !strings.Contains(s.text, `"$cfg_PUBKEY_REFRESH_SECONDS" >/etc/systemd/system/sliderule-pubkey.timer`) {
		t.Error("the refresh timer does not use PUBKEY_REFRESH_SECONDS")
	}
	pk := s.heredocs["/usr/local/sbin/sliderule-pubkey"]
	for _, want := range []string{`"$JWT_ISSUER/auth/pem"`, `openssl pkey -pubin -in "$tmp" -noout`, "dst=/etc/haproxy/pem/pubkey.pem",
		`mv -f "$tmp" "$dst"`, "docker kill -s HUP ilb"} {
		if !strings.Contains(pk, want) {
			t.Errorf("sliderule-pubkey lacks %s", want)
		}
	}
	for _, gone := range []string{"provisioner gateway", "nginx", "PROVISIONER_"} {
		if strings.Contains(s.text, gone) {
			t.Errorf("the load balancer still runs %s", gone)
		}
	}
}

func TestUserDataNode(t *testing.T) {
	tpl := parseTemplate(t)
	s := renderUserData(t, tpl, "NodeLaunchTemplate", "Properties", "LaunchTemplateData", "UserData")
	for k, want := range map[string]string{"CLUSTER": "demo", "DOMAIN": "testing.sliderule.org", "VERSION": tVersion,
		"ORCHESTRATOR": "http://" + tIlbPrivateIP + ":8050", "CONTAINER_REGISTRY": tRegistry,
		"PROJECT_BUCKET": "sliderule-test-project", "PROJECT_FOLDER": "cf", "PROJECT_REGION": "us-west-2"} {
		if s.env[k] != want {
			t.Errorf("env %s=%q, want %q", k, s.env[k], want)
		}
	}
	// IPV4 is the one value found at boot, appended after a check.
	if !strings.Contains(s.text, `printf 'IPV4=%s\n' "$ipv4" >>/etc/sliderule/cluster.env`) {
		t.Error("the node does not add IPV4 to its env file")
	}
	ours := s.compose(t, "node", map[string]string{"IPV4": tNodeIP})
	prod := productionCompose(t, "node.sh", map[string]string{"VERSION": tVersion})
	sameAsProduction(t, "node", ours, prod)
	sr := ours.Services["sliderule"]
	if fmt.Sprint(sr.Command) != "[/usr/local/etc/sliderule/server.lua]" || sr.NetworkMode != "host" {
		t.Errorf("sliderule command %v, network %q", sr.Command, sr.NetworkMode)
	}
	env := envMap(sr.Environment)
	for k, want := range map[string]string{"IPV4": tNodeIP, "ORCHESTRATOR": "http://" + tIlbPrivateIP + ":8050",
		"AMS": "http://127.0.0.1:9082", "PROJECT_BUCKET": "sliderule-test-project", "PROJECT_FOLDER": "cf",
		"PROJECT_REGION": "us-west-2", "DOMAIN": "testing.sliderule.org", "CLUSTER": "demo", "CONTAINER_REGISTRY": tRegistry} {
		if env[k] != want {
			t.Errorf("sliderule %s=%q, want %q", k, env[k], want)
		}
	}
	if !slices.Contains(sr.Volumes, "/data:/data") || !slices.Contains(ours.Services["ams"].Volumes, "/data:/data") {
		t.Error("sliderule and ams do not both get /data")
	}
	// /data is filled from the project bucket as production does, before the containers start.
	for _, dir := range []string{"server", "ams"} {
		want := `retry aws s3 cp --recursive --only-show-errors "s3://$cfg_PROJECT_BUCKET/$cfg_PROJECT_FOLDER/` + dir + `/" /data/`
		if i, j := strings.Index(s.text, want), strings.Index(s.text, "up --detach"); i < 0 || j < i {
			t.Errorf("node boot script lacks %s before starting the containers", want)
		}
	}
	// The node registers itself (server.lua); no registration of ours.
	if strings.Contains(s.text, "discovery/register") {
		t.Error("the boot script registers the node; server.lua does")
	}
}

func TestUserDataMonitor(t *testing.T) {
	tpl := parseTemplate(t)
	s := renderUserData(t, tpl, "MonitorInstance", "Properties", "UserData")
	sameAsProduction(t, "monitor", s.compose(t, "monitor", nil), productionCompose(t, "monitor.sh", map[string]string{"VERSION": tVersion}))
}

// ingress is one ingress rule of a security group of the template.
type ingress struct {
	group, cidr, source string
	from, to            int
}

func TestSecurityGroups(t *testing.T) {
	tpl := parseTemplate(t)
	res := mapGet(tpl, "Resources")
	e := &evaluator{t: t, params: renderParams(t, tpl)}
	var rules []ingress
	add := func(group string, r *yaml.Node) {
		in := ingress{group: group}
		fmt.Sscan(e.str(mapGet(r, "FromPort")), &in.from)
		fmt.Sscan(e.str(mapGet(r, "ToPort")), &in.to)
		for _, k := range []string{"CidrIp", "CidrIpv6"} {
			if c := mapGet(r, k); c != nil {
				in.cidr = e.str(c)
			}
		}
		if sg := mapGet(r, "SourceSecurityGroupId"); sg != nil {
			in.source = strings.TrimPrefix(e.str(sg), "REF:")
		}
		if p := e.str(mapGet(r, "IpProtocol")); p != "tcp" {
			t.Errorf("%s: protocol %s", group, p)
		}
		rules = append(rules, in)
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		name, r := res.Content[i].Value, res.Content[i+1]
		switch mapGet(r, "Type").Value {
		case "AWS::EC2::SecurityGroup":
			if eg := mapGet(r, "Properties", "SecurityGroupEgress"); eg != nil {
				t.Errorf("%s: egress rules", name)
			}
			if in := mapGet(r, "Properties", "SecurityGroupIngress"); in != nil {
				for _, rule := range in.Content {
					add(name, rule)
				}
			}
		case "AWS::EC2::SecurityGroupIngress":
			add(strings.TrimPrefix(e.str(mapGet(r, "Properties", "GroupId")), "REF:"), mapGet(r, "Properties"))
		}
	}
	open := map[string]bool{}
	for _, r := range rules {
		switch {
		case r.cidr == "0.0.0.0/0" || r.cidr == "::/0":
			if r.group != "LoadBalancerSecurityGroup" || r.from != r.to || (r.from != 80 && r.from != 443) {
				t.Errorf("open to the internet: %+v", r)
			}
			open[fmt.Sprintf("%d %s", r.from, r.cidr)] = true
		case r.cidr != "":
			t.Errorf("ingress from an address range: %+v (only security groups inside)", r)
		case r.source == "":
			t.Errorf("ingress from nowhere: %+v", r)
		}
		if r.from <= 8050 && 8050 <= r.to && (r.group != "LoadBalancerSecurityGroup" || r.source != "NodeSecurityGroup") {
			t.Errorf(":8050 reachable other than from the nodes: %+v", r)
		}
	}
	for _, want := range []string{"80 0.0.0.0/0", "443 0.0.0.0/0", "80 ::/0", "443 ::/0"} {
		if !open[want] {
			t.Errorf("the load balancer's port %s is not open", want)
		}
	}
	if !slices.Contains(rules, ingress{group: "LoadBalancerSecurityGroup", source: "NodeSecurityGroup", from: 8050, to: 8050}) {
		t.Error("the nodes cannot reach :8050")
	}
	if !slices.Contains(rules, ingress{group: "NodeSecurityGroup", source: "LoadBalancerSecurityGroup", from: 9081, to: 9081}) {
		t.Error("the load balancer cannot reach the nodes' :9081")
	}
	// Each instance is in its own group.
	for path, want := range map[string]string{
		"LoadBalancerInstance.Properties.NetworkInterfaces":                 "LoadBalancerSecurityGroup",
		"NodeLaunchTemplate.Properties.LaunchTemplateData.SecurityGroupIds": "NodeSecurityGroup",
		"MonitorInstance.Properties.NetworkInterfaces":                      "MonitorSecurityGroup",
	} {
		n := mapGet(res, strings.Split(path, ".")...)
		if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) != 1 {
			t.Errorf("%s: %v", path, n)
			continue
		}
		g := n.Content[0]
		if gs := mapGet(g, "GroupSet"); gs != nil {
			g = gs
			if len(g.Content) != 1 {
				t.Errorf("%s: %d groups", path, len(g.Content))
				continue
			}
			g = g.Content[0]
		}
		if got := strings.TrimPrefix(e.str(g), "REF:"); got != want {
			t.Errorf("%s: group %s, want %s", path, got, want)
		}
	}
}

// TestPubkeyRefresh runs the load balancer's key refresh script with fake
// curl and docker (and the real openssl): a new public key replaces the
// file and reloads HAProxy; the same key changes nothing; anything that is
// not a PEM public key is refused and the current key kept.
func TestPubkeyRefresh(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not found: required under CI")
		}
		t.Skip("openssl not found")
	}
	tpl := parseTemplate(t)
	s := renderUserData(t, tpl, "LoadBalancerInstance", "Properties", "UserData")
	dir := t.TempDir()
	pemDir := filepath.Join(dir, "pem")
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{pemDir, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.ReplaceAll(s.heredocs["/usr/local/sbin/sliderule-pubkey"], "/etc/haproxy/pem", pemDir)
	fakes := map[string]string{
		// curl: record the URL, write $FAKE_PEM to the -o file.
		"curl": `#!/bin/bash
out=""; url=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2 ;; -m|--max-filesize|--proto) shift 2 ;; -*) shift ;; *) url="$1"; shift ;; esac; done
echo "$url" >>"$LOG"
cat "$FAKE_PEM" >"$out"
`,
		"docker": `#!/bin/bash
echo "docker $*" >>"$LOG"
if [ "$1" = inspect ]; then echo true; fi
`,
	}
	for name, text := range fakes {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "refresh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	key := func(name string) string {
		f := filepath.Join(dir, name+".pem")
		priv := filepath.Join(dir, name+".key")
		if out, err := exec.Command(openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", priv).CombinedOutput(); err != nil {
			t.Fatalf("openssl genpkey: %v\n%s", err, out)
		}
		if out, err := exec.Command(openssl, "pkey", "-in", priv, "-pubout", "-out", f).CombinedOutput(); err != nil {
			t.Fatalf("openssl pkey: %v\n%s", err, out)
		}
		return f
	}
	k1, k2 := key("k1"), key("k2")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("<html>not found</html>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	run := func(pem string) (string, error) {
		_ = os.Remove(log)
		cmd := exec.Command(filepath.Join(dir, "refresh"))
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+filepath.Dir(openssl)+":/usr/bin:/bin", "JWT_ISSUER="+tIssuer,
			"FAKE_PEM="+pem, "LOG="+log)
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(log)
		if err != nil {
			return string(b), fmt.Errorf("%v: %s", err, out)
		}
		return string(b), nil
	}
	installed := func() string {
		b, _ := os.ReadFile(filepath.Join(pemDir, "pubkey.pem"))
		return string(b)
	}
	read := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	calls, err := run(k1)
	if err != nil || installed() != read(k1) || !strings.Contains(calls, tIssuer+"/auth/pem\n") || !strings.Contains(calls, "docker kill -s HUP ilb") {
		t.Fatalf("first key: err %v, calls %q", err, calls)
	}
	if calls, err := run(k1); err != nil || strings.Contains(calls, "kill") {
		t.Errorf("same key: err %v, calls %q (no reload wanted)", err, calls)
	}
	if calls, err := run(garbage); err == nil || installed() != read(k1) || strings.Contains(calls, "kill") {
		t.Errorf("not a key: err %v, calls %q, key kept %t", err, calls, installed() == read(k1))
	}
	if calls, err := run(filepath.Join(dir, "k1.key")); err == nil || installed() != read(k1) || strings.Contains(calls, "kill") {
		t.Errorf("a private key: err %v, calls %q", err, calls)
	}
	if calls, err := run(k2); err != nil || installed() != read(k2) || !strings.Contains(calls, "docker kill -s HUP ilb") {
		t.Errorf("rotated key: err %v, calls %q", err, calls)
	}
	entries, _ := os.ReadDir(pemDir)
	if len(entries) != 1 {
		t.Errorf("left in the pem directory: %v", entries)
	}
}
