# shellcheck shell=bash
# What the bench-*.sh scripts share; they source it from the repository's
# root. It makes a work directory removed at exit (with the processes
# recorded in pids), builds the load generator, and sets bin: BIN, or
# ./cmd/provisioner built here.
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${work}"; }
trap cleanup EXIT

# free_port prints a loopback port nobody listens on.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_up waits until URL answers at all, or exits.
wait_up() {
	for _ in $(seq 1 100); do curl -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "no answer at $1" >&2
	exit 1
}

bin=${BIN:-}
if [ -z "${bin}" ]; then
	go build -o "${work}/provisioner" ./cmd/provisioner
	bin="${work}/provisioner"
fi
go build -o "${work}/load" ./scripts/load
