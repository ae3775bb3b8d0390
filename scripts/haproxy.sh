#!/usr/bin/env bash
# Builds HAProxy 3.0 (with Lua 5.3, OpenSSL, PCRE2) from Debian's source
# package once and caches the binary at .cache/haproxy/haproxy. Production's
# ILB runs HAProxy 3.3; 2.6 (Debian bookworm's binary) drops array audiences
# in jwt_payload_query, so the real ILB config needs >= 3.0.
# Prints the binary's path. Needs root for apt-get (the test machine's case).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.cache/haproxy
bin=${out}/haproxy
# (The version is read whole first: grep -q closing the pipe early would
# fail the pipeline under pipefail and rebuild every time.)
if [ -x "${bin}" ] && [[ "$("${bin}" -v 2>/dev/null || true)" == *"version 3."* ]]; then
	echo "${PWD}/${bin}"
	exit 0
fi
mkdir -p "${out}"
log() { printf '==> %s\n' "$*" >&2; }

need=()
for p in build-essential libssl-dev liblua5.3-dev libpcre2-dev lua5.3; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# The trixie suite of the mirror the machine already uses, source only.
# (sources.list may be absent: grep's status must not end the script.)
uri=$({ grep -rhoE '^(URIs:|deb) *[a-z]+://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
	awk '{print $2}' | { grep -v security || true; } | { grep -i debian || true; } | sed -n 1p)
[ -n "${uri}" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
src=$(mktemp -d)
trap 'rm -rf "${src}"' EXIT
mkdir -p "${src}/lists" "${src}/etc/sources.list.d"
echo "deb-src ${uri} trixie main" >"${src}/etc/sources.list"
aptopts=(-o "Dir::Etc::SourceList=${src}/etc/sources.list" -o "Dir::Etc::SourceParts=${src}/etc/sources.list.d"
	-o "Dir::State::Lists=${src}/lists" -o "APT::Get::AllowUnauthenticated=true" -o "Acquire::AllowInsecureRepositories=true")
log "fetching HAProxy 3.0 source from Debian trixie"
apt-get "${aptopts[@]}" update -qq >&2 || true
(cd "${src}" && apt-get "${aptopts[@]}" source --download-only haproxy >&2 || true)
tarball=$(ls "${src}"/haproxy_3.*.orig.tar.gz 2>/dev/null | sed -n 1p)
[ -n "${tarball}" ] || { echo "could not fetch the HAProxy 3.x source tarball" >&2; exit 1; }
tar -xzf "${tarball}" -C "${src}"
dir=$(find "${src}" -maxdepth 1 -type d -name 'haproxy-3*' | sed -n 1p)
log "building $(basename "${dir}") (about a minute)"
make -C "${dir}" -j"$(nproc)" TARGET=linux-glibc USE_OPENSSL=1 USE_LUA=1 LUA_INC=/usr/include/lua5.3 \
	LUA_LIB_NAME=lua5.3 USE_PCRE2=1 >"${out}/build.log" 2>&1 || { tail -30 "${out}/build.log" >&2; exit 1; }
install -m 0755 "${dir}/haproxy" "${bin}"
version=$("${bin}" -v)
echo "${version%%$'\n'*}" >&2
echo "${PWD}/${bin}"
