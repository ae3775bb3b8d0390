package cloudformation_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"provisioner"
)

func parseGroupTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(readGroupTemplate(t)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// scalarProps is a mapping node's scalar properties.
func scalarProps(n *yaml.Node) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
			out[n.Content[i].Value] = v.Value
		}
	}
	return out
}

func paramsOf(tpl *yaml.Node) map[string]map[string]string {
	out := map[string]map[string]string{}
	ps := mapGet(tpl, "Parameters")
	for i := 0; i+1 < len(ps.Content); i += 2 {
		out[ps.Content[i].Value] = scalarProps(ps.Content[i+1])
	}
	return out
}

// TestGroupTemplateParameters: userasg.yaml's parameters are what the
// driver sets, each string one is constrained to shell-safe words, the
// ones it shares with cluster.yaml have cluster.yaml's constraints, and
// cluster.yaml has the outputs the driver reads.
func TestGroupTemplateParameters(t *testing.T) {
	group, cluster := paramsOf(parseGroupTemplate(t)), paramsOf(parseTemplate(t))
	set := []string{"ClusterName", "Username", "NodeCapacity", "Version", "CreatedBy", "ExpiresAt",
		"SubnetId", "NodeSecurityGroupId", "NodeInstanceProfileArn", "OrchestratorIp",
		"Domain", "ImageRegistry", "ProjectBucket", "ProjectFolder", "EnvironmentVersion", "AlertStream",
		"TelemetryStream", "ComposeURL", "ComposeSHA256", "AMI", "NodeInstanceType", "NodeVolumeSize"}
	for _, k := range set {
		if _, ok := group[k]; !ok {
			t.Errorf("the driver sets %s, which userasg.yaml does not have", k)
		}
	}
	for name, p := range group {
		if !slices.Contains(set, name) {
			t.Errorf("userasg.yaml parameter %s is set by nobody", name)
		}
		if p["Type"] == "String" && p["AllowedPattern"] == "" && p["AllowedValues"] == "" {
			t.Errorf("string parameter %s has no AllowedPattern", name)
		}
		if c, shared := cluster[name]; shared && name != "ClusterName" && name != "NodeCapacity" {
			for _, prop := range []string{"Type", "AllowedPattern", "MaxLength", "MinValue", "MaxValue", "Default"} {
				if c[prop] != p[prop] {
					t.Errorf("%s %s: userasg.yaml %q, cluster.yaml %q", name, prop, p[prop], c[prop])
				}
			}
		}
		if re := p["AllowedPattern"]; re != "" {
			pat := regexp.MustCompile(re)
			for _, bad := range []string{`"`, "'", "$", "`", "\\", "\n", " ", ";", "&", "|", "<", ">", "(", ")", "#", "*", "?", "{", "}"} {
				if pat.MatchString("x"+bad+"y") || pat.MatchString(bad) {
					t.Errorf("parameter %s admits %q", name, bad)
				}
			}
		}
	}
	if group["ClusterName"]["AllowedPattern"] != cluster["ClusterName"]["AllowedPattern"] ||
		group["NodeCapacity"]["MaxValue"] != cluster["NodeCapacity"]["MaxValue"] {
		t.Error("ClusterName or NodeCapacity constraints differ from cluster.yaml")
	}
	user := regexp.MustCompile(group["Username"]["AllowedPattern"])
	for _, v := range []string{"a", "A", "alice", "Alice-1", "a-b-c", strings.Repeat("a", 39), strings.Repeat("a", 40),
		"", "-a", "a-", "a--b", "a_b", "a.b", "a b", "a/b", "a;b", "é"} {
		goOK := provisioner.ValidateUsername(v) == nil
		cfnOK := user.MatchString(v) && len(v) <= 39
		if goOK != cfnOK {
			t.Errorf("user %q: Go accepts=%t, template accepts=%t", v, goOK, cfnOK)
		}
	}
	outputs := mapGet(parseTemplate(t), "Outputs")
	for _, o := range []string{"NodeSubnetId", "NodeSecurityGroupId", "NodeInstanceProfileArn", "LoadBalancerPrivateIp"} {
		if mapGet(outputs, o) == nil {
			t.Errorf("cluster.yaml has no output %s", o)
		}
	}
}

// TestUserDataGroupNode renders userasg.yaml's user data and checks it
// against production's node.sh as deploy_handler runs it for a user
// group (SERVICE = the user, so CLUSTER=<user>), and against cluster.yaml's
// node: the same script but for CLUSTER, the orchestrator from the
// cluster's output, and nothing else.
func TestUserDataGroupNode(t *testing.T) {
	group := renderUserData(t, parseGroupTemplate(t), "UserLaunchTemplate", "Properties", "LaunchTemplateData", "UserData")
	node := renderUserData(t, parseTemplate(t), "NodeLaunchTemplate", "Properties", "LaunchTemplateData", "UserData")
	for k, want := range map[string]string{"CLUSTER": tUser, "DOMAIN": "testing.sliderule.org", "VERSION": tVersion,
		"ORCHESTRATOR": "http://" + tIlbPrivateIP + ":8050", "CONTAINER_REGISTRY": tRegistry,
		"PROJECT_BUCKET": "sliderule-test-project", "PROJECT_FOLDER": "cf", "PROJECT_REGION": "us-west-2"} {
		if group.env[k] != want {
			t.Errorf("env %s=%q, want %q", k, group.env[k], want)
		}
	}
	// The cluster's node env but CLUSTER; the same script and compose file.
	for k, v := range node.env {
		if k != "CLUSTER" && group.env[k] != v {
			t.Errorf("env %s=%q, the cluster's nodes have %q", k, group.env[k], v)
		}
	}
	if len(group.env) != len(node.env) {
		t.Errorf("env %v, the cluster's nodes %v", group.env, node.env)
	}
	envStart := func(s string) int { return strings.Index(s, "SLIDERULE_EOF\n# ---- constant") }
	if i, j := envStart(group.text), envStart(node.text); i < 0 || j < 0 || group.text[i:] != node.text[j:] {
		t.Error("the group's boot script differs from the cluster node's after the env file")
	}
	ours := group.compose(t, "group node", map[string]string{"IPV4": tNodeIP})
	prod := productionCompose(t, "node.sh", map[string]string{"VERSION": tVersion, "SERVICE": tUser})
	sameAsProduction(t, "group node", ours, prod)
	env, penv := envMap(ours.Services["sliderule"].Environment), envMap(prod.Services["sliderule"].Environment)
	if env["CLUSTER"] != tUser || penv["CLUSTER"] != tUser {
		t.Errorf("sliderule CLUSTER=%q, production's user group %q; want the user %q", env["CLUSTER"], penv["CLUSTER"], tUser)
	}
	if env["ORCHESTRATOR"] != "http://"+tIlbPrivateIP+":8050" {
		t.Errorf("ORCHESTRATOR=%q", env["ORCHESTRATOR"])
	}
	if fmt.Sprint(ours.Services["sliderule"].Command) != "[/usr/local/etc/sliderule/server.lua]" {
		t.Errorf("sliderule command %v", ours.Services["sliderule"].Command)
	}
}
