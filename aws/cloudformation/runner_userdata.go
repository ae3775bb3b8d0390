package cloudformation

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"provisioner"
	"provisioner/plan"
)

// MaxUserData is EC2's limit on user data, before base64.
const MaxUserData = 16 << 10

// Markers of the two data sections of the user data. The environment
// file's delimiter carries a digest of the file, so no line of it can end
// the section early; the script is base64, which has no '_'.
const (
	envDelimiterPrefix = "SLIDERULE_JOB_ENV_"
	scriptDelimiter    = "SLIDERULE_JOB_SCRIPT"
)

// bootstrapScript is the user data around its two data sections: they go
// in place of its sectionsLine, and jobDirLine sets the machine's job
// directory, shell-quoted (a runner setting, never request data).
//
//go:embed runner_bootstrap.sh
var bootstrapScript string

const (
	sectionsLine = "# @data sections@ (runner_userdata.go writes $J/job.env and $J/job.sh here)\n"
	jobDirLine   = "J=__JOB_DIR__\n"
)

// bootstrapHead and bootstrapTail are runner_bootstrap.sh before and after
// its sectionsLine.
var bootstrapHead, bootstrapTail = func() (string, string) {
	head, tail, ok := strings.Cut(bootstrapScript, sectionsLine)
	if !ok || strings.Count(head, jobDirLine) != 1 {
		panic("runner_bootstrap.sh lacks its data section or job directory line")
	}
	return head, tail
}()

// userData renders the user data of a job: the constant bootstrap around
// the environment file and the gzip+base64 job script.
func userData(dir string, env, script []byte) ([]byte, error) {
	sum := sha256.Sum256(env)
	delim := envDelimiterPrefix + hex.EncodeToString(sum[:8])
	if !bytes.HasSuffix(env, []byte("\n")) {
		env = append(append([]byte(nil), env...), '\n')
	}
	for line := range strings.SplitSeq(string(env), "\n") {
		if line == delim {
			return nil, provisioner.Errorf(provisioner.EINTERNAL, "the job environment holds its own section delimiter")
		}
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(script); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(strings.Replace(bootstrapHead, jobDirLine, "J="+plan.ShellQuote(dir)+"\n", 1))
	fmt.Fprintf(&b, "cat >\"$J/job.env\" <<'%s'\n", delim)
	b.Write(env)
	b.WriteString(delim + "\n")
	fmt.Fprintf(&b, "base64 -d >\"$J/job.sh.gz\" <<'%s' || { shutdown -h now; exit 1; }\n", scriptDelimiter)
	enc := base64.StdEncoding.EncodeToString(z.Bytes())
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n" + scriptDelimiter + "\n")
	b.WriteString("gunzip -f -- \"$J/job.sh.gz\" || { shutdown -h now; exit 1; }\n")
	b.WriteString(bootstrapTail)
	if b.Len() > MaxUserData {
		return nil, provisioner.Errorf(provisioner.EINVALID,
			"the job's EC2 user data would be %d bytes; EC2 allows %d: shorten the plan, the host setup or the extra variables", b.Len(), MaxUserData)
	}
	return b.Bytes(), nil
}

// onExitCommand is the job's ON_EXIT: the script written by the bootstrap.
func onExitCommand(dir string) string {
	return "exec bash --noprofile --norc " + plan.ShellQuote(dir+"/on-exit.sh") + " " + plan.ShellQuote(dir)
}

// hostScript is host.sh beside this file: the host setup of the default
// plans, documented there (what it installs; its inputs AWS_REGION,
// REGISTRY, DATA_BUCKET, DATA_PREFIX, DATA_DIR from the job's extra
// variables).
//
//go:embed host.sh
var hostScript string

// DefaultHostSetup is host.sh without its comments and blank lines (the
// user data holds 16 KiB at most): it prepares an Amazon Linux 2023 machine
// like the sliderule repository's nightly runner does (git, make, rsync,
// wget, docker, Miniforge, /data from the project bucket, a registry
// login) plus Node.js 20 and Playwright's Chromium libraries. It runs as
// root, with the job's extra variables exported, before the job script.
var DefaultHostSetup = compactShell(hostScript)

// compactShell drops a script's comment lines (but shellcheck directives)
// and blank lines.
func compactShell(s string) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "# shellcheck") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// encodeUserData is the form EC2 (the template's UserData parameters) takes.
func encodeUserData(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// BuildEnvWrapper is the container wrapper (Config.ContainerWrapper) that
// runs container steps in the SlideRule build environment, as the nightly
// runner of the sliderule repository did: the image
// $REGISTRY/sliderule-buildenv:latest (set REGISTRY in Config.Env; the
// default host setup logs docker in to it), host network, the checkout
// mounted at its own path, /data (the AMS test data) when the host setup
// provides it, and the job's variables, the step's secrets (STEP_SECRETS,
// set by the job script to the names the step declares) among them. It is
// buildenv_wrapper.sh as one line.
var BuildEnvWrapper = oneLine(buildEnvScript)

//go:embed buildenv_wrapper.sh
var buildEnvScript string

// oneLine is a script of one command as one line: without its comments,
// its continued lines joined.
func oneLine(s string) string {
	var parts []string
	for line := range strings.SplitSeq(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		parts = append(parts, strings.TrimSpace(strings.TrimSuffix(t, "\\")))
	}
	return strings.Join(parts, " ")
}
