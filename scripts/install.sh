#!/usr/bin/env bash
# Installs the provisioner client for the GitHub Action (action.yml): the
# release archive of the action's ref for this machine's OS and
# architecture, verified against the release's checksums.txt, or, when
# that ref has no release, a build from this source tree.
#
# Usage: scripts/install.sh DEST
#
# Environment:
#   PROVISIONER_REF           the ref to install, e.g. v1.2.3 (the action passes
#                             github.action_ref); only vX.Y.Z[-pre] tags have releases
#   PROVISIONER_REPOSITORY    OWNER/REPO whose releases to use (github.action_repository)
#   PROVISIONER_RELEASES_URL  where releases are: BASE/REF/FILE is downloaded;
#                             default GITHUB_SERVER_URL/REPOSITORY/releases/download
#   PROVISIONER_INSTALL_FROM  auto (default): the release, else build from source;
#                             release: the release only, else install nothing
#                             (installed=false) and exit 0, so a later step can
#                             set up Go and build; source: build from source
#   PROVISIONER_INSTALL_GO    the go command of the source build (default go)
#
# When GITHUB_OUTPUT is set it gets installed=true|false and from=release|source.
# An archive that does not match checksums.txt is never installed: exit 1.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
from=${PROVISIONER_INSTALL_FROM:-auto}
GO=${PROVISIONER_INSTALL_GO:-go}

say() { echo "install: $*" >&2; }
die() {
	if [ "${GITHUB_ACTIONS:-}" = true ]; then
		echo "::error::install: $*" >&2
	else
		echo "install: $*" >&2
	fi
	exit 1
}
output() {
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		printf '%s\n' "$@" >>"${GITHUB_OUTPUT}"
	fi
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
	die "usage: scripts/install.sh DEST"
fi
case "${from}" in
auto | release | source) ;;
*) die "invalid PROVISIONER_INSTALL_FROM '${from}': auto, release or source" ;;
esac
mkdir -p "$(dirname "$1")"
dest="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

ref=${PROVISIONER_REF:-}
repo=${PROVISIONER_REPOSITORY:-}
# Composite actions do not always see github.action_ref and
# action_repository; the runner checks the action out at
# .../_actions/OWNER/REPO/REF, which says the same.
if [[ ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/([^/]+)/?$ ]]; then
	repo=${repo:-${BASH_REMATCH[1]}/${BASH_REMATCH[2]}}
	ref=${ref:-${BASH_REMATCH[3]}}
fi
base=${PROVISIONER_RELEASES_URL:-}
if [ -z "${base}" ] && [ -n "${repo}" ] && [ -n "${GITHUB_SERVER_URL:-}" ]; then
	base=${GITHUB_SERVER_URL}/${repo}/releases/download
fi
base=${base%/}

sha256() {
	if command -v sha256sum >/dev/null; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

tmp=$(mktemp -d)
partial=""
trap 'rm -rf "${tmp}"; [ -z "${partial}" ] || rm -f "${partial}"' EXIT

# fetch URL OUT sets found: true when downloaded, false when absent (404).
# Any other answer is an error, not a missing release: it stops the install.
fetch() {
	local code
	code=$(curl -sSL --retry 3 --retry-delay 1 --connect-timeout 10 --max-time 300 \
		-o "$2" -w '%{http_code}' "$1") || code=${code:-000}
	case "${code}" in
	200) found=true ;;
	404) found=false ;;
	*) die "downloading $1 failed (HTTP ${code})" ;;
	esac
}

# release installs the release of ref, verified, and sets released=true;
# false when ref has none for this machine.
release() {
	local os arch archive want got
	released=false
	if ! [[ ${ref} =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
		say "'${ref:-(none)}' is not a release tag (vX.Y.Z)"
		return
	fi
	if [ -z "${base}" ]; then
		say "no repository to download ${ref} from (set PROVISIONER_RELEASES_URL)"
		return
	fi
	[[ ${base} =~ ^https?:// ]] || die "invalid PROVISIONER_RELEASES_URL '${base}': an http(s) URL"
	case "$(uname -s)" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	*) os="" ;;
	esac
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) arch="" ;;
	esac
	if [ -z "${os}" ] || [ -z "${arch}" ]; then
		say "releases have no binary for $(uname -s)/$(uname -m)"
		return
	fi
	# Named as scripts/dist.sh and GoReleaser name it: the version without its "v".
	archive=provisioner_${ref#v}_${os}_${arch}.tar.gz

	fetch "${base}/${ref}/checksums.txt" "${tmp}/checksums.txt"
	if [ "${found}" = false ]; then
		say "no release ${ref} at ${base}"
		return
	fi
	want=$(awk -v f="${archive}" '$2 == f || $2 == "*" f { print $1; exit }' "${tmp}/checksums.txt")
	[[ ${want} =~ ^[0-9a-f]{64}$ ]] || die "checksums.txt of ${ref} has no SHA-256 for ${archive}; refusing to install"
	fetch "${base}/${ref}/${archive}" "${tmp}/${archive}"
	[ "${found}" = true ] || die "release ${ref} lists ${archive} but it is not there (404)"
	got=$(sha256 "${tmp}/${archive}")
	if [ "${got}" != "${want}" ]; then
		die "checksum mismatch for ${archive} of ${ref}: checksums.txt says ${want}, the download is ${got}; refusing to install it"
	fi
	mkdir "${tmp}/x"
	tar -xzf "${tmp}/${archive}" -C "${tmp}/x" provisioner 2>/dev/null || die "${archive} holds no provisioner binary"
	if [ ! -f "${tmp}/x/provisioner" ] || [ -L "${tmp}/x/provisioner" ]; then
		die "${archive}: provisioner is not a regular file"
	fi
	# Copied next to DEST, then renamed: DEST is whole or absent.
	partial=${dest}.partial.$$
	cp "${tmp}/x/provisioner" "${partial}"
	chmod 0755 "${partial}"
	mv -f "${partial}" "${dest}"
	partial=""
	released=true
	say "installed ${archive} of ${ref} (sha256 ${got} as in checksums.txt)"
}

build() {
	say "building from source: ${GO} build -o ${dest} ./cmd/provisioner"
	(cd "${src}" && "${GO}" build -o "${dest}" ./cmd/provisioner) || die "building from source failed"
}

if [ "${from}" = source ]; then
	build
	output installed=true from=source
else
	release
	if [ "${released}" = true ]; then
		output installed=true from=release
	elif [ "${from}" = release ]; then
		say "no release to install; build from source (PROVISIONER_INSTALL_FROM=source)"
		output installed=false
		exit 0
	else
		build
		output installed=true from=source
	fi
fi
"${dest}" --version
