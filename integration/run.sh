#!/usr/bin/env bash
# Runs layerkit's whole test suite against a real FoundationDB cluster:
#   1. checks what it needs (Docker with Compose, the FoundationDB 7.3 client package, Go with cgo)
#      and stops at once, naming everything that is missing;
#   2. starts a single-process FoundationDB 7.3.63 in Docker (docker-compose.yml);
#   3. waits (bounded) until `fdbcli --exec status` reports the cluster healthy;
#   4. runs `go test -tags fdb -p 1 ./...` with LAYERKIT_FDB_CLUSTER_FILE pointing at it;
#   5. removes the cluster again, whatever happened.
#
# Usage: integration/run.sh [go test arguments]     (default: ./...)
#   e.g. integration/run.sh ./kv/...   or   integration/run.sh -run Conformance ./kv/fdbkv
# Environment: FDB_PORT (default 4500), LAYERKIT_FDB_WAIT_SECONDS (default 120).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
port=${FDB_PORT:-4500}
wait_seconds=${LAYERKIT_FDB_WAIT_SECONDS:-120}
project=${COMPOSE_PROJECT_NAME:-layerkit-fdb}

say() { printf 'integration: %s\n' "$*" >&2; }

# --- 1. prerequisites -------------------------------------------------------------------------
missing=()
compose=()
if ! command -v docker >/dev/null 2>&1; then
	missing+=("docker: the Docker CLI is not installed (https://docs.docker.com/engine/install/)")
else
	if docker compose version >/dev/null 2>&1; then
		compose=(docker compose)
	elif command -v docker-compose >/dev/null 2>&1; then
		compose=(docker-compose)
	else
		missing+=("docker compose: neither the Compose plugin ('docker compose') nor docker-compose is installed")
	fi
	if ! docker info >/dev/null 2>&1; then
		missing+=("a Docker engine: 'docker info' cannot reach one (is the daemon running, and may this user use it?)")
	fi
fi

clients_missing=""
clients_hint="install the FoundationDB client package of release 7.3.63 from https://github.com/apple/foundationdb/releases/tag/7.3.63
    (Debian/Ubuntu: foundationdb-clients_7.3.63-1_amd64.deb; RHEL: the foundationdb-clients .rpm; macOS: the FoundationDB .pkg).
    It provides fdbcli, libfdb_c and foundationdb/fdb_c.h; the server is not needed (it runs in Docker)."
if ! command -v fdbcli >/dev/null 2>&1; then
	missing+=("fdbcli (foundationdb-clients 7.3): not found")
	clients_missing=yes
else
	fdbcli_version=$(fdbcli --version 2>/dev/null | grep -Eo 'v[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
	if [[ $fdbcli_version != v7.3.* ]]; then
		missing+=("foundationdb-clients 7.3: fdbcli reports '${fdbcli_version:-no version}', want v7.3.x")
		clients_missing=yes
	fi
fi

have_libfdb_c() {
	if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libfdb_c\.'; then
		return 0
	fi
	local d
	local IFS=:
	for d in /usr/lib /usr/lib64 /usr/local/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu ${LIBRARY_PATH:-} ${LD_LIBRARY_PATH:-} ${DYLD_LIBRARY_PATH:-}; do
		if [[ -n $d && ( -e $d/libfdb_c.so || -e $d/libfdb_c.dylib ) ]]; then
			return 0
		fi
	done
	return 1
}
have_fdb_header() {
	local d flags
	read -ra flags <<<"${CGO_CFLAGS:-}"
	for d in /usr/include /usr/local/include ${flags[@]+"${flags[@]/#-I/}"}; do
		if [[ -e $d/foundationdb/fdb_c.h ]]; then
			return 0
		fi
	done
	return 1
}
if ! have_libfdb_c; then
	missing+=("libfdb_c (foundationdb-clients 7.3): the FoundationDB client library is not found by the linker")
	clients_missing=yes
fi
if ! have_fdb_header; then
	missing+=("foundationdb/fdb_c.h (foundationdb-clients 7.3): the client library's C header is not found; cgo needs it")
	clients_missing=yes
fi

if ! command -v go >/dev/null 2>&1; then
	missing+=("go: the Go toolchain is not installed (https://go.dev/dl/; go.mod asks for Go 1.26)")
else
	if [[ $(go env CGO_ENABLED) != 1 ]]; then
		missing+=("cgo: 'go env CGO_ENABLED' is not 1; the FoundationDB binding needs cgo (export CGO_ENABLED=1)")
	fi
	cc=$(go env CC)
	if ! command -v "${cc%% *}" >/dev/null 2>&1; then
		missing+=("a C compiler: '${cc}' (go env CC) is not installed; cgo needs one (e.g. apt-get install gcc)")
	fi
fi

if ((${#missing[@]} > 0)); then
	say "cannot run the FoundationDB integration suite; missing:"
	for m in "${missing[@]}"; do
		printf '  - %s\n' "$m" >&2
	done
	if [[ -n $clients_missing ]]; then
		printf 'To get the FoundationDB client: %s\n' "$clients_hint" >&2
	fi
	exit 2
fi

# --- 2. start the cluster -----------------------------------------------------------------------
shared=$(mktemp -d "${TMPDIR:-/tmp}/layerkit-fdb.XXXXXX")
chmod 0777 "$shared" # the container's user writes the cluster file here
export LAYERKIT_FDB_SHARED_DIR=$shared FDB_PORT=$port
cluster_file=$shared/fdb.cluster
dc() { "${compose[@]}" --project-name "$project" --file "$here/docker-compose.yml" "$@"; }

teardown() {
	local rc=$?
	trap - EXIT INT TERM
	say "removing the FoundationDB cluster"
	dc down --volumes --remove-orphans >/dev/null 2>&1 || say "docker compose down failed; check 'docker ps' for project $project"
	rm -rf "$shared" 2>/dev/null || true
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting FoundationDB 7.3.63 on 127.0.0.1:$port"
dc up --detach

# --- 3. wait until healthy ----------------------------------------------------------------------
say "waiting up to ${wait_seconds}s for the cluster to report healthy"
deadline=$((SECONDS + wait_seconds))
status=""
until [[ -s $cluster_file ]] &&
	status=$(fdbcli -C "$cluster_file" --timeout 5 --exec status 2>&1) &&
	grep -Eq 'Replication health +- +Healthy' <<<"$status"; do
	if ((SECONDS >= deadline)); then
		say "the cluster did not become healthy within ${wait_seconds}s; last status:"
		printf '%s\n' "${status:-(no cluster file yet at $cluster_file)}" >&2
		say "container logs:"
		dc logs --tail 50 >&2 || true
		exit 1
	fi
	sleep 2
done
say "cluster healthy ($(head -1 "$cluster_file"))"

# --- 4. run the tests ---------------------------------------------------------------------------
# -p 1: every package's tests share this one cluster and clear it, so packages run one at a time.
# -count 1: results depend on the cluster, which the test cache does not know about.
if (($# == 0)); then
	set -- ./...
fi
say "go test -tags fdb -p 1 -count 1 $*"
cd "$root"
LAYERKIT_FDB_CLUSTER_FILE=$cluster_file go test -tags fdb -p 1 -count 1 "$@"
