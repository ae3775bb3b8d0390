package ec2

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

// bootstrapHead is the start of the user data, up to the environment file;
// the one %s is the machine's job directory, shell-quoted (a runner
// setting, never request data).
const bootstrapHead = `#!/bin/bash
# SlideRule Provisioner: the EC2 user data of one TEST or RELEASE job.
# Constant text, but for two data sections: the job's environment file
# (package plan's Env: every value validated and single-quoted, so that
# sourcing it only sets variables) and the job script (the operator's
# plan, gzip+base64). The machine ends itself: at the job's hard deadline
# at the latest (shutdown -h +N), else once the log and result are in S3.
set -u
umask 077
export HOME=/root LANG=C.UTF-8
J=%s
if ! mkdir -p -- "$J" || ! chmod 700 -- "$J"; then shutdown -h now; exit 1; fi
`

// onExitScript is written to $J/on-exit.sh: the job's ON_EXIT. It runs once
// the job script wrote its result (or, if the script never ran, once the
// bootstrap gave up on it): JUnit reports, log, then the result (last, so
// that a reader who sees a final result finds the rest), then the machine
// ends. The lock keeps the periodic upload from replacing the final result
// with an older one.
const onExitScript = `# on-exit.sh J: upload the job's reports, log and result; end the machine.
set -u
J=$1
exec 9>>"$J/upload.lock"
flock -w 150 9 || echo "on-exit: the periodic upload holds the lock; uploading anyway" >&2
: >"$J/final"
up() {
	local i
	for i in 1 2 3 4 5; do
		timeout 120 aws s3 cp --only-show-errors "$@" && return 0
		sleep $((i * 3))
	done
	echo "on-exit: could not upload $*" >&2
	return 1
}
if [ -d "$WORK_DIR/junit" ]; then up --recursive "$WORK_DIR/junit" "$S3_JOB_URI/junit"; fi
up --content-type 'text/plain; charset=utf-8' "$LOG_FILE" "$S3_LOG_URI"
if [ -f "$RESULT_FILE" ]; then up --content-type application/json "$RESULT_FILE" "$S3_JOB_URI/result.json"; fi
shutdown -h now
`

// bootstrapTail follows the two data sections.
const bootstrapTail = `# The job's values, as data; check what arithmetic will see.
. "$J/job.env" || { shutdown -h now; exit 1; }
[[ $DEADLINE =~ ^[0-9]{1,12}$ && $KILL_GRACE =~ ^[0-9]{1,5}$ && $DEADLINE_GRACE =~ ^[0-9]{1,5}$ &&
	$S3_UPLOAD_INTERVAL =~ ^[1-9][0-9]{0,4}$ && $UPLOAD_GRACE =~ ^[0-9]{1,5}$ ]] || { shutdown -h now; exit 1; }
# The hard deadline, whatever happens below: the job script's own deadline
# and grace periods, and time for the upload.
js_min=$(((DEADLINE + 2 * KILL_GRACE + DEADLINE_GRACE + UPLOAD_GRACE - $(date +%s) + 59) / 60))
[ "$js_min" -ge 1 ] || js_min=1
shutdown -h "+$js_min"
for js_v in $EXTRA_VARS; do
	[[ $js_v =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "${js_v?}"
done
export WORK_DIR RESULT_FILE LOG_FILE
if ! mkdir -p -- "$WORK_DIR" || ! touch -- "$LOG_FILE"; then shutdown -h now; exit 1; fi
cat >"$J/on-exit.sh" <<'SLIDERULE_ON_EXIT'
` + onExitScript + `SLIDERULE_ON_EXIT

# While the job runs, its log and result go to S3 now and then, so that
# they can be followed.
js_uploader() {
	while sleep "$S3_UPLOAD_INTERVAL"; do
		(
			flock -n 9 || exit 0
			[ ! -e "$J/final" ] || exit 0
			timeout 60 aws s3 cp --only-show-errors --content-type 'text/plain; charset=utf-8' "$LOG_FILE" "$S3_LOG_URI"
			[ ! -f "$RESULT_FILE" ] || timeout 60 aws s3 cp --only-show-errors --content-type application/json "$RESULT_FILE" "$S3_JOB_URI/result.json"
		) 9>>"$J/upload.lock"
		[ ! -e "$J/final" ] || return 0
	done
}
js_uploader </dev/null >>"$J/uploader.log" 2>&1 &

# The operator's host setup (packages, tools, registry login), bounded by
# the job's deadline; the job runs even if it fails, and says what broke.
{
	printf '%s ==> host setup\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	js_left=$((DEADLINE - $(date +%s)))
	[ "$js_left" -gt 0 ] || js_left=1
	timeout -k 10 "$js_left" bash --noprofile --norc -eo pipefail -c "${HOST_SETUP:-:}" </dev/null
	js_rc=$?
	printf '%s <== host setup: exit status %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$js_rc"
} >>"$LOG_FILE" 2>&1

# The job, leading a session of its own; it runs ON_EXIT when it is done.
setsid -w bash --noprofile --norc "$J/job.sh" "$J/job.env" </dev/null >>"$LOG_FILE" 2>&1
[ -e "$J/final" ] || bash --noprofile --norc "$J/on-exit.sh" "$J" </dev/null >>"$LOG_FILE" 2>&1
shutdown -h now
`

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
	fmt.Fprintf(&b, bootstrapHead, plan.ShellQuote(dir))
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

// encodeUserData is the form RunInstances takes.
func encodeUserData(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// BuildEnvWrapper is the container wrapper (Config.ContainerWrapper) that
// runs container steps in the SlideRule build environment, as the nightly
// runner of the sliderule repository did: the image
// $REGISTRY/sliderule-buildenv:latest (set REGISTRY in Config.Env; the
// default host setup logs docker in to it), host network, the checkout
// mounted at its own path, /data (the AMS test data) when the host setup
// provides it, and the job's variables, the step's secrets (STEP_SECRETS,
// set by the job script to the names the step declares) among them.
const BuildEnvWrapper = `docker run --rm --network host -v "$CHECKOUT_DIR:$CHECKOUT_DIR" -v /data:/data -w "$PWD" ` +
	`-e JOB_ID -e JOB_KIND -e CLUSTER -e ORGANIZATION -e VERSION -e DOMAIN -e CHECKOUT_DIR -e WORK_DIR -e STEP_NAME ` +
	`-e AWS_REGION -e AWS_DEFAULT_REGION $(for n in $STEP_SECRETS; do printf -- "-e %s " "$n"; done) "$REGISTRY/sliderule-buildenv:latest"`
