#!/usr/bin/env bash
# Smoke test of the Lambda entry under the AWS Lambda Runtime Interface
# Emulator (RIE), on Linux, without Docker:
#   1. builds aws-lambda-rie from its Go module in a temporary module (never
#      in the provisioner's go.mod),
#   2. builds a bootstrap with -tags lambda.norpc for this machine's
#      architecture (the deployed one is arm64; see deploy/README.md),
#   3. runs `go test -run TestRIESmoke ./aws/lambda/` with both, which starts
#      the emulator, posts an API Gateway HTTP API event (GET /healthz),
#      scheduler events and a malformed event to its invoke API, and checks
#      the answers.
#
# Usage: aws/lambda/testdata/rie-smoke.sh            # the test app (testdata/rieapp)
#        BOOTSTRAP_PKG=./cmd/provisioner-lambda aws/lambda/testdata/rie-smoke.sh
#                                                    # the provisioner itself
# The provisioner in Lambda mode reads its configuration from the
# environment (see deploy/README.md); export it before running.
set -euo pipefail
cd "$(dirname "$0")/../../.."

RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=${RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}
BOOTSTRAP_PKG=${BOOTSTRAP_PKG:-}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

echo "==> building aws-lambda-rie ${RIE_VERSION}"
(
	cd "${work}"
	go mod init rie-smoke >/dev/null 2>&1
	go get "${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}" >/dev/null 2>&1
	CGO_ENABLED=0 go build -o "${work}/aws-lambda-rie" "${RIE_MODULE}/cmd/aws-lambda-rie"
)

export PROVISIONER_TEST_RIE="${work}/aws-lambda-rie"
if [ -n "${BOOTSTRAP_PKG}" ]; then
	echo "==> building bootstrap from ${BOOTSTRAP_PKG}"
	CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -o "${work}/bootstrap" "${BOOTSTRAP_PKG}"
	export PROVISIONER_TEST_RIE_BOOTSTRAP="${work}/bootstrap"
fi

echo "==> smoke test"
go test -count=1 -v -run '^TestRIESmoke$' ./aws/lambda/
