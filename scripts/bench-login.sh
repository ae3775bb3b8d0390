#!/usr/bin/env bash
# PAT login side by side: production's login handler (run in process by
# ../shared/bench/anchor_pat_login.py, KMS replaced by a local RSA key) and
# `provisioner serve`, both against the same fake GitHub (scripts/fakegithub)
# in the same run. Prints production's logins/s, ours sequential and with 8
# clients, and the ratios. Needs python3 with requests, boto3, cryptography.
#
#   scripts/bench-login.sh [N]     # N logins per measurement (default 2000)
#   BIN=/path/to/provisioner scripts/bench-login.sh   # an older build, for "before"
#   SERVE_FLAGS="--github-login-cache 0" scripts/bench-login.sh   # every login asks GitHub
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
ref=${SLIDERULE_REF:-$(cd .. && pwd)/shared/sliderule-ref}
anchor=${ANCHOR:-$(cd .. && pwd)/shared/bench/anchor_pat_login.py}
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. scripts/bench-lib.sh
go build -o "${work}/fakegithub" ./scripts/fakegithub

gh_port=$(free_port)
"${work}/fakegithub" -addr "127.0.0.1:${gh_port}" 2>/dev/null &
pids+=($!)
gh="http://127.0.0.1:${gh_port}"
wait_up "${gh}/user/teams"

p_port=$(free_port)
read -ra extra <<<"${SERVE_FLAGS:-}"
"${bin}" serve --addr "127.0.0.1:${p_port}" --data "${work}/data" --log-level error \
	--github-api-url "${gh}" --github-org sliderule-test \
	--login-rate-source unlimited --login-rate-failure unlimited --login-rate-identity unlimited "${extra[@]}" &
pids+=($!)
wait_up "http://127.0.0.1:${p_port}/healthz"

echo "==> production's login handler (in process, local RSA key), ${n} logins"
prod=$(python3 "${anchor}" "${ref}/apps/authenticator/github_oauth.py" "${gh}" "${n}" | tail -1)
echo "${prod}"
prod_rate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["anchor_pat_logins_per_s"])' "${prod}")

ours() { "${work}/load" -url "http://127.0.0.1:${p_port}/auth/github/pat" -body '{"pat":"pat-bob"}' -n "${n}" -c "$1" -d 120s; }
echo "==> provisioner, sequential (1 client)"
seq_out=$(ours 1)
echo "${seq_out}"
echo "==> provisioner, 8 clients"
par_out=$(ours 8)
echo "${par_out}"
rate_of() { sed -n 's/.* \([0-9.]*\) req\/s.*/\1/p' <<<"$1" | head -1; }
python3 - "${prod_rate}" "$(rate_of "${seq_out}")" "$(rate_of "${par_out}")" <<'PY'
import sys
prod, seq, par = map(float, sys.argv[1:])
print(f"production {prod:.0f}/s; ours sequential {seq:.0f}/s ({seq/prod:.1f}x), 8 clients {par:.0f}/s ({par/prod:.1f}x)")
PY
