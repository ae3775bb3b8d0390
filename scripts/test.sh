#!/usr/bin/env bash
# The whole test suite, from a fresh machine: Go modules, a pinned AWS
# emulator (moto) and cfn-lint in a local virtualenv, static checks, then
# `go test -race` with the emulator running. Under CI=true a missing tool is
# a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
VENV=.venv
# Production's released SlideRule clients, run unchanged by the tests in
# cmd/provisioner/clients_test.go; a venv of their own (they pull geopandas
# and pyarrow), re-created only when the pins change.
SLIDERULE_CLIENT_VERSION=5.7.0
CRYPTOGRAPHY_VERSION=46.0.3 # the clients' request signer needs it
CLIENTS_VENV=.cache/clients-venv
# axe-core, the accessibility checker the dashboard's browser tests run in
# the page, and its npm integrity.
AXE_VERSION=4.14.1
AXE_INTEGRITY='sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=='

log() { printf '==> %s\n' "$*"; }

log "Go modules"
go mod download

log "Python tools (moto ${MOTO_VERSION}, cfn-lint ${CFN_LINT_VERSION}) in ${VENV}"
want="moto==${MOTO_VERSION} cfn-lint==${CFN_LINT_VERSION}"
if [ ! -x "${VENV}/bin/python" ] || [ "$(cat "${VENV}/.pins" 2>/dev/null)" != "${want}" ]; then
	rm -rf "${VENV}"
	python3 -m venv "${VENV}"
	"${VENV}/bin/pip" install --quiet --disable-pip-version-check \
		"moto[server]==${MOTO_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
	echo "${want}" >"${VENV}/.pins"
fi

log "Released SlideRule clients (sliderule ${SLIDERULE_CLIENT_VERSION}) in ${CLIENTS_VENV}"
# cryptography: the client's request signer (Session.__signrequest) needs it.
want="sliderule==${SLIDERULE_CLIENT_VERSION} sliderule-cli==${SLIDERULE_CLIENT_VERSION} cryptography==${CRYPTOGRAPHY_VERSION}"
if [ ! -x "${CLIENTS_VENV}/bin/python" ] || [ "$(cat "${CLIENTS_VENV}/.pins" 2>/dev/null)" != "${want}" ]; then
	rm -rf "${CLIENTS_VENV}"
	mkdir -p "$(dirname "${CLIENTS_VENV}")"
	python3 -m venv "${CLIENTS_VENV}"
	# shellcheck disable=SC2086 # the pins are separate words
	"${CLIENTS_VENV}/bin/pip" install --quiet --disable-pip-version-check ${want}
	echo "${want}" >"${CLIENTS_VENV}/.pins"
fi
export PROVISIONER_TEST_CLIENTS_PYTHON="${PWD}/${CLIENTS_VENV}/bin/python"

log "Starting moto server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p .cache
"${VENV}/bin/moto_server" -H 127.0.0.1 -p "${port}" >.cache/moto.log 2>&1 &
moto_pid=$!
trap 'kill ${moto_pid} 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	if curl -fsS "http://127.0.0.1:${port}/moto-api/" >/dev/null 2>&1; then break; fi
	sleep 0.2
done
if ! curl -fsS "http://127.0.0.1:${port}/moto-api/" >/dev/null 2>&1; then
	echo "moto server did not start; see .cache/moto.log" >&2
	exit 1
fi
export PROVISIONER_TEST_AWS_ENDPOINT="http://127.0.0.1:${port}"
export PROVISIONER_TEST_CFN_LINT="${PWD}/${VENV}/bin/cfn-lint"

log "HAProxy 3.0 for production's ILB (scripts/haproxy.sh, cached in .cache/haproxy)"
if PROVISIONER_TEST_HAPROXY=$(./scripts/haproxy.sh); then
	export PROVISIONER_TEST_HAPROXY
elif [ "${CI:-}" = true ]; then
	echo "could not build HAProxy 3.0" >&2
	exit 1
else
	echo "could not build HAProxy 3.0: the real-ILB tests will be skipped" >&2
fi
# The SlideRule reference files (production's ILB among them).
export SLIDERULE_REF="${SLIDERULE_REF:-$(cd .. && pwd)/shared/sliderule-ref}"

log "shellcheck (go test checks every *.sh, and the scripts rendered from them)"
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get install -y -qq shellcheck >/dev/null || true
fi
if ! command -v shellcheck >/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "no shellcheck" >&2
		exit 1
	fi
	echo "no shellcheck: the shell script checks will be skipped" >&2
fi

log "Chromium and axe-core ${AXE_VERSION} for the dashboard's browser tests (web/)"
# Debian's chromium, driven by chromedp; axe-core from npm, checked against
# its pinned integrity, unpacked in .cache.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get install -y -qq chromium >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || true
fi
if command -v chromium >/dev/null; then
	PROVISIONER_TEST_CHROMIUM=$(command -v chromium)
	export PROVISIONER_TEST_CHROMIUM
elif [ "${CI:-}" = true ]; then
	echo "no chromium (apt-get install chromium)" >&2
	exit 1
else
	echo "no chromium: the dashboard's browser tests will be skipped" >&2
fi
axe_dir=".cache/axe-core-${AXE_VERSION}"
if [ ! -f "${axe_dir}/axe.min.js" ] && command -v npm >/dev/null; then
	tmp=$(mktemp -d)
	if (cd "${tmp}" && npm pack --silent "axe-core@${AXE_VERSION}" >/dev/null 2>&1); then
		got=$(python3 -c 'import base64,hashlib,sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "${tmp}/axe-core-${AXE_VERSION}.tgz")
		if [ "${got}" = "${AXE_INTEGRITY}" ]; then
			mkdir -p "${axe_dir}"
			tar -xzf "${tmp}/axe-core-${AXE_VERSION}.tgz" -C "${axe_dir}" --strip-components=1 package/axe.min.js
		else
			echo "axe-core ${AXE_VERSION}: integrity ${got}, want ${AXE_INTEGRITY}" >&2
		fi
	fi
	rm -rf "${tmp}"
fi
if [ -f "${axe_dir}/axe.min.js" ]; then
	export PROVISIONER_TEST_AXE="${PWD}/${axe_dir}/axe.min.js"
elif [ "${CI:-}" = true ]; then
	echo "could not fetch axe-core ${AXE_VERSION} with npm" >&2
	exit 1
else
	echo "no axe-core: the dashboard's browser tests will be skipped" >&2
fi
# Screenshots of the browser tests land here.
export PROVISIONER_TEST_ARTIFACTS="${PWD}/.cache/test-artifacts"

log "gofmt, go vet, staticcheck"
# shellcheck disable=SC2046 # file names without spaces, one argument each
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*'))
if [ -n "${unformatted}" ]; then
	echo "gofmt needed on:" >&2
	echo "${unformatted}" >&2
	exit 1
fi
go vet ./...
go tool staticcheck ./...

if compgen -G "deploy/*.yaml" >/dev/null; then
	log "cfn-lint"
	"${VENV}/bin/cfn-lint" deploy/*.yaml
fi

log "go test -race"
go test -race -count=1 -timeout 15m ./...

log "Lambda bootstrap under the Runtime Interface Emulator"
# The real binary in Lambda mode, with a configuration that needs no call
# to AWS before the first request (none is made at start).
PROVISIONER_PREFIX=smoke PROVISIONER_ISSUER=https://provisioner.example.org PROVISIONER_TABLE=smoke \
PROVISIONER_LOG_BUCKET=smoke-logs PROVISIONER_KMS_KEY_IDS=smoke PROVISIONER_DOMAIN=example.org \
PROVISIONER_CLUSTER_TEMPLATE_URL=https://templates.example.org/cluster.yaml PROVISIONER_SCHEDULE_GROUP=smoke \
PROVISIONER_FUNCTION_ARN=arn:aws:lambda:us-west-2:123456789012:function:smoke \
PROVISIONER_SCHEDULER_ROLE_ARN=arn:aws:iam::123456789012:role/smoke \
PROVISIONER_DLQ_ARN=arn:aws:sqs:us-west-2:123456789012:smoke \
AWS_REGION=us-west-2 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
BOOTSTRAP_PKG=./cmd/provisioner-lambda aws/lambda/testdata/rie-smoke.sh
