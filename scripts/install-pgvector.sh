#!/usr/bin/env bash
# Installs the pgvector extension into the local PostgreSQL 15 server when it
# is missing. pgvector is not among bookworm's binary packages, so it is built
# from Debian's trixie source package. Idempotent: returns at once when the
# extension is already installed.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
sharedir=$("$PG_CONFIG" --sharedir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)

if [[ -f "$sharedir/extension/vector.control" && -f "$pkglibdir/vector.so" ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-pgvector: pgvector is missing and installing it needs root" >&2
  exit 1
fi

echo "install-pgvector: building pgvector from Debian's source package" >&2
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/trixie-src.list
if [[ ! -f $src_list ]]; then
  # The mirror this machine already uses for Debian's main archive (not its
  # security archive), from its own apt configuration: deb822 .sources
  # files first, then the one-line sources.list.
  mirror=$(awk '
    /^URIs:/ { uris = $2 }
    /^Suites:/ { if ($0 !~ /-security/ && uris != "" && found == "") found = uris }
    /^$/ { uris = "" }
    END { print found }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $3 !~ /-security/ { print $2; exit }' /etc/apt/sources.list)
  fi
  if [[ -z $mirror ]]; then
    echo "install-pgvector: found no Debian mirror in this machine's apt configuration" >&2
    exit 1
  fi
  echo "deb-src $mirror trixie main" >"$src_list"
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends dpkg-dev postgresql-server-dev-15 make gcc >/dev/null

workdir=$(mktemp -d)
chmod 755 "$workdir" # apt-get source downloads as the _apt user
trap 'rm -rf "$workdir"' EXIT
(
  cd "$workdir"
  apt-get source -qq --download-only pgvector >/dev/null
  dpkg-source -x --no-check pgvector_*.dsc src >/dev/null
  cd src
  make -s PG_CONFIG="$PG_CONFIG" >/dev/null
  make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
)
echo "install-pgvector: installed into $pkglibdir" >&2
