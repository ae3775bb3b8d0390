#!/usr/bin/env bash
# POST /access end to end, in the two shapes of BENCHMARKS.md: (a) 8
# clients, 3 users x 40 clusters taken uniformly, 5,000 requests (tokens
# reused); (b) 8 clients, 20 users x 250 clusters, each (user, cluster)
# pair once (every request signs). The real `provisioner serve` (SQLite
# file, static identity) over loopback, driven by scripts/load.
#
#   scripts/bench-access.sh            # builds ./cmd/provisioner
#   BIN=/path/to/provisioner scripts/bench-access.sh   # an older build, for "before"
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. scripts/bench-lib.sh

python3 - "${work}/id.json" <<'PY'
import json, sys
users = [{"token": "dev-admin-token", "login": "dev-admin", "id": 1001, "level": "admin"}]
users += [{"token": "u%02d-token" % i, "login": "u%02d" % i, "id": 2000 + i, "level": "org_member"} for i in range(20)]
json.dump({"org": "sliderule", "users": users}, open(sys.argv[1], "w"))
PY
port=$(free_port)
p="http://127.0.0.1:${port}"
"${bin}" serve --addr "127.0.0.1:${port}" --data "${work}/data" --identity "static:${work}/id.json" --log-level error \
	--login-rate-source unlimited --login-rate-failure unlimited --login-rate-identity unlimited &
pids+=($!)
wait_up "${p}/healthz"

login() { curl -sS -H 'Content-Type: application/json' -d "{\"pat\":\"$1\"}" "${p}/auth/github/pat" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
admin=$(login dev-admin-token)
for i in $(seq -w 0 19); do login "u${i}-token"; done >"${work}/users.txt"
head -3 "${work}/users.txt" >"${work}/u3.txt"
for i in $(seq -w 0 289); do
	curl -sS -o /dev/null -H "Authorization: Bearer ${admin}" -H 'Content-Type: application/json' \
		-d "{\"cluster\":\"c${i}\",\"is_public\":false}" "${p}/clusters/register"
	echo "{\"cluster\":\"c${i}\"}"
done >"${work}/clusters.txt"
head -40 "${work}/clusters.txt" >"${work}/c40.txt"
tail -250 "${work}/clusters.txt" >"${work}/c250.txt"

echo "==> (a) 8 clients, 3 users x 40 clusters, 5,000 requests"
"${work}/load" -url "${p}/access" -tokens "${work}/u3.txt" -bodies "${work}/c40.txt" -n 5000 -c 8
echo "==> (b) 8 clients, 20 users x 250 clusters, each pair once, 5,000 requests"
"${work}/load" -url "${p}/access" -tokens "${work}/users.txt" -bodies "${work}/c250.txt" -n 5000 -c 8
