#!/usr/bin/env bash
# Start-up script of the FoundationDB container (see docker-compose.yml): starts fdbserver through
# the image's own script, which writes the cluster file, then creates the database once
# ("configure new single memory": one process, data in memory) and keeps the server in the
# foreground.
set -uo pipefail

/var/fdb/scripts/fdb.bash &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT

cluster_file=${FDB_CLUSTER_FILE:?FDB_CLUSTER_FILE is not set}
configured=""
for _ in $(seq 1 60); do
	if ! kill -0 "$server" 2>/dev/null; then
		echo "start-fdb: fdbserver exited" >&2
		exit 1
	fi
	if [[ -s $cluster_file ]]; then
		out=$(fdbcli -C "$cluster_file" --timeout 10 --exec 'configure new single memory' 2>&1)
		rc=$?
		echo "$out"
		if [[ $rc -eq 0 || $out == *"already exists"* ]]; then
			configured=yes
			break
		fi
	fi
	sleep 1
done
if [[ -z $configured ]]; then
	echo "start-fdb: could not configure the database in 60 attempts; the server keeps running" >&2
fi
wait "$server"
