#!/usr/bin/env bash
# Runs layerkit's whole test suite against a real FoundationDB 7.3.63 cluster in Docker:
#   1. checks what it needs and stops at once, naming everything that is missing (or installs the
#      FoundationDB client package, with --install-clients);
#   2. starts a single-process FoundationDB in Docker (docker-compose.yml);
#   3. waits (bounded) until the cluster reports healthy, and marks it as disposable test ground
#      (the key internal/testdb requires before it clears anything);
#   4. runs `go test -tags fdb -p 1 -count 1 -timeout ...` against it, on the host or, with
#      --in-docker, in a sibling container on the cluster's network;
#   5. removes the cluster again, whatever happened.
#
# Usage: integration/run.sh [--in-docker] [--install-clients] [go test arguments]
#   (default arguments: ./...), e.g.  integration/run.sh -run Conformance ./kv/fdbkv
#   --in-docker        run the tests in the compose service "tests" (Go, gcc and the FoundationDB
#                      client in an image built from runner.Dockerfile); the host needs only
#                      Docker with Compose.
#   --install-clients  on the host, install the FoundationDB client package if it is missing
#                      (Debian/Ubuntu; root or passwordless sudo; checked against
#                      foundationdb-clients.sha256).
# Environment: FDB_PORT (default 4500), LAYERKIT_FDB_WAIT_SECONDS (default 120),
#   LAYERKIT_FDB_TEST_TIMEOUT (default 30m; passed as go test -timeout unless the arguments give
#   one), LAYERKIT_FDB_RUNNER=docker (same as --in-docker).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
port=${FDB_PORT:-4500}
wait_seconds=${LAYERKIT_FDB_WAIT_SECONDS:-120}
test_timeout=${LAYERKIT_FDB_TEST_TIMEOUT:-30m}
project=${COMPOSE_PROJECT_NAME:-layerkit-fdb}
runner=${LAYERKIT_FDB_RUNNER:-host}
install_clients=""
marker_key='\xff\x02/layerkit/disposable-test-cluster' # internal/testdb.MarkerKey, as fdbcli writes it

say() { printf 'integration: %s\n' "$*" >&2; }

while (($# > 0)); do
	case $1 in
	--in-docker) runner=docker ;;
	--install-clients) install_clients=yes ;;
	--)
		shift
		break
		;;
	*) break ;;
	esac
	shift
done
if [[ $runner != host && $runner != docker ]]; then
	say "LAYERKIT_FDB_RUNNER=$runner: want host or docker"
	exit 2
fi

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

have_libfdb_c() {
	if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libfdb_c\.'; then
		return 0
	fi
	local d
	local IFS=:
	for d in /usr/lib /usr/lib64 /usr/local/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu ${LIBRARY_PATH:-} ${LD_LIBRARY_PATH:-} ${DYLD_LIBRARY_PATH:-}; do
		if [[ -n $d && (-e $d/libfdb_c.so || -e $d/libfdb_c.dylib) ]]; then
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
clients_ok() { have_libfdb_c && have_fdb_header; }

if [[ $runner == host ]]; then
	if ! clients_ok && [[ -n $install_clients ]]; then
		say "installing the FoundationDB 7.3.63 client package"
		"$here/install-fdb-clients.sh" || missing+=("the FoundationDB client package: integration/install-fdb-clients.sh failed (see above)")
	fi
	if ! have_libfdb_c; then
		missing+=("libfdb_c (FoundationDB client 7.3.63): not found by the linker")
	fi
	if ! have_fdb_header; then
		missing+=("foundationdb/fdb_c.h (FoundationDB client 7.3.63): not found; cgo needs it")
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
fi

if ((${#missing[@]} > 0)); then
	say "cannot run the FoundationDB integration suite; missing:"
	for m in "${missing[@]}"; do
		printf '  - %s\n' "$m" >&2
	done
	if [[ $runner == host && -z $install_clients ]] && ! clients_ok; then
		printf 'To get the FoundationDB client: integration/run.sh --install-clients (Debian/Ubuntu, root or sudo), or integration/run.sh --in-docker (needs only Docker).\n' >&2
	fi
	exit 2
fi

# --- 2. start the cluster -----------------------------------------------------------------------
shared=$(mktemp -d "${TMPDIR:-/tmp}/layerkit-fdb.XXXXXX")
chmod 0777 "$shared" # the container's user writes the cluster file here
cluster_file=$shared/fdb.cluster
export LAYERKIT_FDB_SHARED_DIR=$shared FDB_PORT=$port
if [[ $runner == docker ]]; then
	export LAYERKIT_FDB_NETWORKING_MODE=container LAYERKIT_FDB_CLUSTER_CONTENTS="docker:docker@fdb:$port"
else
	export LAYERKIT_FDB_NETWORKING_MODE=host LAYERKIT_FDB_CLUSTER_CONTENTS="docker:docker@127.0.0.1:$port"
fi
dc() { "${compose[@]}" --project-name "$project" --file "$here/docker-compose.yml" "$@"; }
fdbcli_in_container() { dc exec -T fdb fdbcli -C /var/fdb/shared/fdb.cluster --timeout 10 --exec "$1"; }

teardown() {
	local rc=$?
	trap - EXIT INT TERM
	say "removing the FoundationDB cluster"
	dc --profile runner down --volumes --remove-orphans >/dev/null 2>&1 || say "docker compose down failed; check 'docker ps' for project $project"
	rm -rf "$shared" 2>/dev/null || true
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

where="on this host"
[[ $runner == docker ]] && where="in the container of the compose service tests"
say "starting FoundationDB 7.3.63 at ${LAYERKIT_FDB_CLUSTER_CONTENTS#*@} (tests run ${where})"
dc up --detach fdb

# --- 3. wait until healthy, then mark the cluster ----------------------------------------------
say "waiting up to ${wait_seconds}s for the cluster to report healthy"
deadline=$((SECONDS + wait_seconds))
status=""
until [[ -s $cluster_file ]] &&
	status=$(fdbcli_in_container status 2>&1) &&
	grep -Eq 'Replication health +- +Healthy' <<<"$status"; do
	if ((SECONDS >= deadline)); then
		say "the cluster did not become healthy within ${wait_seconds}s; last status:"
		printf '%s\n' "${status:-(no cluster file yet at $cluster_file)}" >&2
		say "container logs:"
		dc logs --tail 50 fdb >&2 || true
		exit 1
	fi
	sleep 2
done
say "cluster healthy ($(head -1 "$cluster_file"))"

# The cluster was created just now and holds nothing: mark it as disposable test ground, which
# internal/testdb checks (with LAYERKIT_FDB_ALLOW_CLEAR=1) before it clears anything.
if ! out=$(fdbcli_in_container "writemode on; option on ACCESS_SYSTEM_KEYS; set $marker_key created-by-integration/run.sh" 2>&1); then
	say "could not write the test-cluster marker:"
	printf '%s\n' "$out" >&2
	exit 1
fi

# --- 4. run the tests ---------------------------------------------------------------------------
# -p 1: every package's tests share this one cluster and clear it, so packages run one at a time.
# -count 1: results depend on the cluster, which the test cache does not know about.
# -timeout: a hung test fails the run with its goroutines dumped instead of stalling it.
if (($# == 0)); then
	set -- ./...
fi
args=(-tags fdb -p 1 -count 1)
has_timeout=""
for a in "$@"; do
	case $a in -timeout | -timeout=* | --timeout | --timeout=*) has_timeout=yes ;; esac
done
if [[ -z $has_timeout ]]; then
	args+=(-timeout "$test_timeout")
fi
say "go test ${args[*]} $*"
if [[ $runner == docker ]]; then
	say "building the test runner image (Go, gcc, FoundationDB client)"
	dc --profile runner build tests
	# Module and build caches live in named volumes outside the compose project, so they
	# survive the teardown and later runs start warm.
	dc --profile runner run --rm \
		-v layerkit-go-mod:/go/pkg/mod -v layerkit-go-build:/root/.cache/go-build \
		tests go test "${args[@]}" "$@"
else
	cd "$root"
	LAYERKIT_FDB_CLUSTER_FILE=$cluster_file LAYERKIT_FDB_ALLOW_CLEAR=1 go test "${args[@]}" "$@"
fi
