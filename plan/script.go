package plan

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"
)

//go:embed job.sh
var jobScript string

const planMarker = "# @@PLAN@@\n"

// Script renders the job script of a plan resolved for one version
// (Set.For or Plan.For): job.sh beside this file, with the steps written
// in as single-quoted bash arrays. It holds operator data only; the job's
// values come from the environment file (Env) at run time. The same script
// serves every runner.
func Script(p Plan) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if seen[s.Name] {
			return nil, fmt.Errorf("plan %s: step %q appears for several version ranges: resolve the plan for a version first (Plan.For)", p.Source, s.Name)
		}
		seen[s.Name] = true
	}
	var names, runs, containers, junits, conts, timeouts, secrets []string
	for _, s := range p.Steps {
		names = append(names, ShellQuote(s.Name))
		runs = append(runs, ShellQuote(s.Run))
		containers = append(containers, boolDigit(s.Container))
		junits = append(junits, ShellQuote(s.JUnit))
		conts = append(conts, boolDigit(s.ContinueOnFailure))
		timeouts = append(timeouts, strconv.Itoa(int(s.Timeout/time.Second)))
		secrets = append(secrets, ShellQuote(strings.Join(s.Secrets, " ")))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# The %s plan: %d steps.\n", p.Kind, len(p.Steps))
	b.WriteString("PLAN_NAME=(" + strings.Join(names, " ") + ")\n")
	b.WriteString("PLAN_CONTAINER=(" + strings.Join(containers, " ") + ")\n")
	b.WriteString("PLAN_JUNIT=(" + strings.Join(junits, " ") + ")\n")
	b.WriteString("PLAN_CONTINUE=(" + strings.Join(conts, " ") + ")\n")
	b.WriteString("PLAN_TIMEOUT=(" + strings.Join(timeouts, " ") + ")\n")
	b.WriteString("PLAN_SECRETS=(" + strings.Join(secrets, " ") + ")\n")
	b.WriteString("PLAN_RUN=(\n")
	for _, r := range runs {
		b.WriteString(r + "\n")
	}
	b.WriteString(")\n")
	tmpl := compactScript(jobScript)
	if strings.Count(tmpl, planMarker) != 1 {
		return nil, fmt.Errorf("job.sh has no single plan marker")
	}
	return []byte(strings.Replace(tmpl, planMarker, b.String(), 1)), nil
}

// compactScript drops job.sh's comments and blank lines (but the shebang,
// shellcheck directives and the plan marker): EC2 user data, which carries
// the script on AWS, holds 16 KiB at most.
func compactScript(s string) string {
	var b strings.Builder
	b.WriteString("#!/usr/bin/env bash\n# SlideRule Provisioner job script, generated from plan/job.sh (documented there).\n")
	for i, line := range strings.SplitAfter(s, "\n") {
		t := strings.TrimSpace(line)
		if i == 0 || t == "" || strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "# shellcheck") && line != planMarker {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func boolDigit(v bool) string {
	if v {
		return "1"
	}
	return "0"
}
