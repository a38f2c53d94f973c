#!/usr/bin/env bash
# Installs FoundationDB's client package (libfdb_c, its C header foundationdb/fdb_c.h, and fdbcli)
# on Debian or Ubuntu, after checking the downloaded .deb against the SHA-256 committed in
# foundationdb-clients.sha256 beside this script. Used by run.sh --install-clients, by
# runner.Dockerfile and by the CI workflow.
#
# Usage: integration/install-fdb-clients.sh                       download, check, install (root or sudo)
#        integration/install-fdb-clients.sh --print-published-checksum
#                  print the checksum line FoundationDB publishes for this machine's package, to
#                  review and add to foundationdb-clients.sha256
# Environment: FDB_VERSION (default 7.3.63); FDB_ACCEPT_PUBLISHED_CHECKSUM=1 accepts the checksum
#              the release publishes when foundationdb-clients.sha256 has none for the package.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${FDB_VERSION:-7.3.63}
sums=$here/foundationdb-clients.sha256
say() { printf 'install-fdb-clients: %s\n' "$*" >&2; }

if ! command -v dpkg >/dev/null 2>&1; then
	say "this installer handles Debian and Ubuntu (.deb) only; elsewhere install the FoundationDB $version client package by hand from https://github.com/apple/foundationdb/releases/tag/$version"
	exit 2
fi
case $(dpkg --print-architecture) in
amd64) arch=amd64 ;;
arm64) arch=aarch64 ;;
*)
	say "no FoundationDB client package for architecture $(dpkg --print-architecture)"
	exit 2
	;;
esac
asset=foundationdb-clients_${version}-1_${arch}.deb
url=https://github.com/apple/foundationdb/releases/download/${version}/${asset}

fetch() { # fetch URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		say "neither curl nor wget is installed"
		return 1
	fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ${1:-} == --print-published-checksum ]]; then
	fetch "$url.sha256" "$work/sum"
	published=$(grep -Eo '[0-9a-fA-F]{64}' "$work/sum" | head -1 | tr 'A-F' 'a-f')
	if [[ -z $published ]]; then
		say "$url.sha256 holds no SHA-256"
		exit 1
	fi
	printf '%s  %s\n' "$published" "$asset"
	exit 0
elif (($# > 0)); then
	say "unknown argument: $1"
	exit 2
fi

want=$(awk -v asset="$asset" '$1 !~ /^#/ && $2 == asset { print tolower($1) }' "$sums")
if [[ ! $want =~ ^[0-9a-f]{64}$ ]]; then
	if [[ ${FDB_ACCEPT_PUBLISHED_CHECKSUM:-} != 1 ]]; then
		say "no checksum for $asset in $sums, so it will not be installed; fill it in as that file explains ($0 --print-published-checksum), or set FDB_ACCEPT_PUBLISHED_CHECKSUM=1 to check against the .sha256 the release publishes"
		exit 3
	fi
	# Weaker than a committed value: it proves the download whole and as the release page
	# states it, not that the release page is unchanged since it was reviewed.
	fetch "$url.sha256" "$work/sum"
	want=$(grep -Eo '[0-9a-fA-F]{64}' "$work/sum" | head -1 | tr 'A-F' 'a-f')
	if [[ ! $want =~ ^[0-9a-f]{64}$ ]]; then
		say "$url.sha256 holds no SHA-256; not installing"
		exit 1
	fi
	say "no committed checksum for $asset: checking against the published one ($want), as FDB_ACCEPT_PUBLISHED_CHECKSUM=1 asks"
fi

say "downloading $url"
fetch "$url" "$work/$asset"
got=$(sha256sum "$work/$asset" | awk '{ print $1 }')
if [[ $got != "$want" ]]; then
	say "checksum mismatch for $asset: got $got, want $want (from $sums); not installing"
	exit 1
fi
say "checksum of $asset matches ($got)"

if ((EUID == 0)); then
	dpkg -i "$work/$asset"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo dpkg -i "$work/$asset"
else
	say "installing needs root: re-run as root or with passwordless sudo (it runs dpkg -i $asset)"
	exit 2
fi
say "installed $asset"
