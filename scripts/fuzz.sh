#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 30s) and keeps the corpus:
# the inputs the fuzzer found interesting are copied from the Go cache into
# the package's testdata/fuzz, so plain `go test` replays them from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./.venv/' | sort); do
	dir=$(dirname "$file")
	pkg=$(go list "$dir")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		echo "==> $pkg $fn ($fuzztime)"
		go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$dir"
		if [ -d "$cache/$pkg/$fn" ]; then
			mkdir -p "$dir/testdata/fuzz/$fn"
			cp -n "$cache/$pkg/$fn"/* "$dir/testdata/fuzz/$fn/" 2>/dev/null || true
		fi
	done
done
echo "corpus kept under */testdata/fuzz ($module)"
