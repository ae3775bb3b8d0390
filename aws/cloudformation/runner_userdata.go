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

// bootstrapTail follows the two data sections: the job's host setup, the
// job, the periodic and final uploads, and the machine's end. The job's
// ON_EXIT (on-exit.sh) is written by it.
//
//go:embed runner_bootstrap.sh
var bootstrapTail string

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

// DefaultHostSetup prepares an Amazon Linux 2023 machine for the default
// plans: git, make and docker; Node.js 20 and Miniforge (mamba) on PATH;
// and, when REGISTRY is set, a docker login to it (Amazon ECR), so that the
// container wrapper can pull the build environment. It runs as root, with
// the job's extra variables exported, before the job script.
const DefaultHostSetup = `dnf install -y -q git make docker tar gzip bzip2 which findutils
systemctl enable --now docker
if ! command -v node >/dev/null; then
	dnf install -y -q nodejs20 nodejs20-npm
	for t in node npm npx; do
		if command -v "$t-20" >/dev/null; then ln -sf "$(command -v "$t-20")" "/usr/local/bin/$t"; fi
	done
fi
if [ ! -x /opt/miniforge/bin/mamba ]; then
	curl -fsSL -o /tmp/miniforge.sh "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh"
	bash /tmp/miniforge.sh -b -p /opt/miniforge
fi
ln -sf /opt/miniforge/bin/mamba /opt/miniforge/bin/conda /usr/local/bin/
if [ -n "${REGISTRY:-}" ]; then
	aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$REGISTRY"
fi
`

// encodeUserData is the form EC2 (the template's UserData parameters) takes.
func encodeUserData(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// BuildEnvWrapper is the container wrapper (Config.ContainerWrapper) that
// runs container steps in the SlideRule build environment, as the nightly
// runner of the sliderule repository did: the image
// $REGISTRY/sliderule-buildenv:latest (set REGISTRY in Config.Env; the
// default host setup logs docker in to it), host network, the checkout
// mounted at its own path, /data (the AMS test data) when the host setup
// provides it, and the job's variables.
const BuildEnvWrapper = `docker run --rm --network host -v "$CHECKOUT_DIR:$CHECKOUT_DIR" -v /data:/data -w "$PWD" ` +
	`-e JOB_ID -e JOB_KIND -e CLUSTER -e ORGANIZATION -e VERSION -e DOMAIN -e CHECKOUT_DIR -e WORK_DIR -e STEP_NAME ` +
	`-e AWS_REGION -e AWS_DEFAULT_REGION "$REGISTRY/sliderule-buildenv:latest"`
