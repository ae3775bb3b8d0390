#!/usr/bin/env bash
# The release artifacts, built with plain `go build`, reproducibly: the same
# source and toolchain give the same bytes (-trimpath, -buildid=, every mtime
# SOURCE_DATE_EPOCH, sorted tar entries owned by root (0:0), gzip -n, zip -X).
# .goreleaser.yaml describes the same artifacts for GitHub releases, and
# scripts/release_test.go keeps the two in step.
#
#   DIST_DIR/provisioner_<v>_<os>_<arch>.tar.gz       the CLI, one file: provisioner
#                                                     (linux, darwin x amd64, arm64)
#   DIST_DIR/provisioner-lambda_<v>_linux_arm64.zip   the Lambda package, one file: bootstrap
#   DIST_DIR/checksums.txt                            their SHA-256, as sha256sum writes it
#
# <v> is VERSION without its leading "v", as GoReleaser names archives
# ({{ .Version }}); the binaries report VERSION itself (provisioner version).
#
# Usage: scripts/dist.sh             build the artifacts of DIST_TARGETS
#        scripts/dist.sh --dry-run   print them and how each is built; build nothing
#        scripts/dist.sh lambda ZIP  the Lambda package alone, at ZIP (make package)
#
# Environment:
#   VERSION            default: git describe --tags --always --dirty
#   DIST_TARGETS       default: linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 lambda
#   DIST_DIR           default: dist
#   SOURCE_DATE_EPOCH  every file's mtime; default: 315532800 (1980-01-01 UTC)
#   GO                 default: go
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

GO=${GO:-go}
DIST_DIR=${DIST_DIR:-dist}
DIST_TARGETS=${DIST_TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 lambda}
# The variable the linker stamps; .goreleaser.yaml names the same one.
VERSION_VAR=provisioner/buildinfo.version

die() {
	echo "dist: $*" >&2
	exit 1
}

mode=dist
case "${1:-}" in
"") ;;
--dry-run) mode=dry-run ;;
lambda)
	mode=lambda
	[ $# -eq 2 ] || die "usage: scripts/dist.sh lambda ZIP"
	lambda_zip=$2
	;;
*) die "usage: scripts/dist.sh [--dry-run | lambda ZIP]" ;;
esac

if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || true)
fi
if [ -z "${VERSION}" ] && [ "${mode}" != lambda ]; then
	die "VERSION is required outside a git checkout (make dist VERSION=v1.2.3)"
fi
# It becomes part of file names and of the linker's flags.
if [ -n "${VERSION}" ] && ! [[ ${VERSION} =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
	die "invalid VERSION '${VERSION}': use a tag such as v1.2.3 (letters, digits, '.', '_', '+', '-')"
fi
file_version=${VERSION#v}

# 1980-01-01, the earliest time a zip can hold, as .goreleaser.yaml sets it.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
[[ ${SOURCE_DATE_EPOCH} =~ ^[0-9]+$ ]] || die "invalid SOURCE_DATE_EPOCH '${SOURCE_DATE_EPOCH}': seconds since 1970"
# Zip stores local time: build and read it in UTC so the bytes do not
# depend on the machine's zone.
export TZ=UTC0

ldflags="-s -w -buildid= -X ${VERSION_VAR}=${VERSION}"
flags=(-trimpath)

# artifact TARGET sets name, goos, goarch, pkg, bin and tags (- for none)
# for a target: GOOS/GOARCH, or lambda.
artifact() {
	case "$1" in
	lambda)
		name=provisioner-lambda_${file_version}_linux_arm64.zip
		goos=linux goarch=arm64 pkg=./cmd/provisioner-lambda bin=bootstrap tags=lambda.norpc
		;;
	*)
		[[ $1 =~ ^[a-z0-9]+/[a-z0-9]+$ ]] || die "invalid target '$1' in DIST_TARGETS: GOOS/GOARCH (e.g. linux/amd64) or lambda"
		goos=${1%/*} goarch=${1#*/}
		name=provisioner_${file_version}_${goos}_${goarch}.tar.gz
		pkg=./cmd/provisioner bin=provisioner tags=-
		;;
	esac
}

# build OUT: go build the artifact() last set, to OUT.
build() {
	local args=("${flags[@]}")
	[ "${tags}" = - ] || args+=(-tags "${tags}")
	if [ "${mode}" = dry-run ]; then
		echo "${DIST_DIR}/${name}: GOOS=${goos} GOARCH=${goarch} CGO_ENABLED=0 ${GO} build ${args[*]} -ldflags '${ldflags}' -o ${bin} ${pkg}"
		return
	fi
	CGO_ENABLED=0 GOOS=${goos} GOARCH=${goarch} "${GO}" build "${args[@]}" -ldflags "${ldflags}" -o "$1" "${pkg}"
	chmod 0755 "$1"
	touch -t "$(touch_time)" "$1"
}

touch_time() {
	date -u -d "@${SOURCE_DATE_EPOCH}" +%Y%m%d%H%M.%S 2>/dev/null || date -u -r "${SOURCE_DATE_EPOCH}" +%Y%m%d%H%M.%S
}

# GNU tar sorts entries and sets owners and mtimes; BSD tar cannot.
gnutar() {
	local t
	for t in tar gtar; do
		if "$t" --version 2>/dev/null | grep -q 'GNU tar'; then
			"$t" "$@"
			return
		fi
	done
	die "GNU tar is required (on macOS: brew install gnu-tar)"
}

sha256() {
	if command -v sha256sum >/dev/null; then
		sha256sum -- "$@"
	else
		shasum -a 256 -- "$@"
	fi
}

stage=$(mktemp -d)
trap 'rm -rf "${stage}"' EXIT

# lambda_package OUT: the Lambda's bootstrap, zipped alone, to OUT.
lambda_package() {
	local out dir=${stage}/lambda
	out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
	mkdir -p "${dir}"
	build "${dir}/${bin}"
	rm -f "${out}"
	(cd "${dir}" && zip -X -q "${out}" "${bin}")
}

# archive OUT: the binary alone in a tar.gz, to OUT.
archive() {
	local dir=${stage}/${goos}_${goarch}
	mkdir -p "${dir}"
	build "${dir}/${bin}"
	gnutar --format=ustar --sort=name --mtime="@${SOURCE_DATE_EPOCH}" --owner=root:0 --group=root:0 \
		-C "${dir}" -cf - "${bin}" | gzip -9 -n >"$1"
}

if [ "${mode}" = lambda ]; then
	artifact lambda
	mkdir -p "$(dirname "${lambda_zip}")"
	lambda_package "${lambda_zip}"
	ls -l "${lambda_zip}"
	exit 0
fi

for t in ${DIST_TARGETS}; do
	artifact "$t" # refuse a bad target before building anything
done
if [ "${mode}" = dry-run ]; then
	for t in ${DIST_TARGETS}; do
		artifact "$t"
		build -
	done
	echo "${DIST_DIR}/checksums.txt: sha256"
	exit 0
fi

mkdir -p "${DIST_DIR}"
# Only this version's artifacts go into the directory and checksums.txt.
rm -f "${DIST_DIR}"/provisioner_*.tar.gz "${DIST_DIR}"/provisioner-lambda_*.zip "${DIST_DIR}/checksums.txt"
names=""
for t in ${DIST_TARGETS}; do
	artifact "$t"
	echo "==> ${DIST_DIR}/${name}"
	if [ "$t" = lambda ]; then
		lambda_package "${DIST_DIR}/${name}"
	else
		archive "${DIST_DIR}/${name}"
	fi
	names+="${name}"$'\n'
done
# Sorted by name, as GoReleaser writes it; names have no spaces.
# shellcheck disable=SC2046
(cd "${DIST_DIR}" && sha256 $(printf '%s' "${names}" | sort -u)) >"${DIST_DIR}/checksums.txt"
echo "==> ${DIST_DIR}/checksums.txt"
cat "${DIST_DIR}/checksums.txt"
