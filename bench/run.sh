#!/usr/bin/env bash
# The restore benchmark, in one command (see bench/README.md):
#
#   bench/run.sh                 # 50,000 rows x 1,024 dimensions, 3 rounds
#   bench/run.sh --quick         # 5,000 x 256
#   bench/run.sh --bucket-only   # only the bucket section (SeaweedFS)
#   bench/run.sh --index-only    # only the vector index (HNSW) and online section
#
# Installs pgvector, psycopg2 and GNU time when missing, starts a throwaway
# PostgreSQL 15 cluster (scripts/pg.sh), builds mcp-server from this tree,
# runs the Go harness (go run ./bench), and stops and deletes the cluster.
#
# The cluster runs production-like by default: fsync, synchronous_commit and
# full_page_writes on, shared_buffers=1GB, max_wal_size=4GB,
# wal_level=replica. Every result is labelled with the settings it ran
# under ("durable", "fast" or "custom", in the report and the file names).
#
# Arguments go to the harness (bench/run.sh --help lists them), except:
#   --fast      scripts/pg.sh's throwaway settings instead: fsync,
#               synchronous_commit and full_page_writes off, PostgreSQL's
#               default shared_buffers (128MB) and max_wal_size (1GB); the
#               figures then measure CPU and memory work, not the disk
#   --durable   the default (kept for old command lines)
# and --bucket / --bucket-only, which go to the harness too, and make this
# script start SeaweedFS (scripts/install-weed.sh, scripts/weed.sh) on
# loopback first.
# BENCH_PG_OPTS adds server options, e.g. BENCH_PG_OPTS='-c work_mem=64MB'.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=false
bucket=false
args=()
for a in "$@"; do
  case $a in
    --fast) fast=true ;;
    --durable) fast=false ;;
    --bucket | --bucket-only | -bucket | -bucket-only)
      bucket=true
      args+=("$a")
      ;;
    -h | --help | -help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      echo
      go run ./bench --help 2>&1 || true
      exit 0
      ;;
    *) args+=("$a") ;;
  esac
done

as_root_install() { # package...
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench/run.sh: $* missing; installing needs root (apt-get install -y $*)" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

bash scripts/install-pgvector.sh

[[ -x /usr/bin/time ]] || as_root_install time

# The old algorithm needs psycopg2. Debian's package goes to the system
# Python, which may not be the first python3 on PATH (pyenv).
python=
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import psycopg2' 2>/dev/null; then
    python=$(command -v "$py")
    break
  fi
done
if [[ -z $python ]]; then
  echo "bench/run.sh: installing python3-psycopg2" >&2
  as_root_install python3-psycopg2
  python=/usr/bin/python3
  "$python" -c 'import psycopg2'
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-bin.XXXXXX")
cleanup_tmp() { rm -rf "$tmp"; }
trap cleanup_tmp EXIT

# Another engineer may be mid-edit: a failing build is retried for a while.
for try in $(seq 1 10); do
  if go build -o "$tmp/mcp-server" ./cmd/mcp-server 2>"$tmp/build.log"; then
    break
  fi
  if [[ $try -eq 10 ]]; then
    cat "$tmp/build.log" >&2
    echo "bench/run.sh: go build ./cmd/mcp-server keeps failing" >&2
    exit 1
  fi
  echo "bench/run.sh: go build ./cmd/mcp-server failed (attempt $try); retrying in 60 s:" >&2
  head -n 5 "$tmp/build.log" >&2
  sleep 60
done
go build -o "$tmp/bench" ./bench
"$tmp/bench" --check-args ${args[@]+"${args[@]}"}

source scripts/pg.sh
pg_start
trap 'pg_stop; cleanup_tmp' EXIT

# scripts/pg.sh starts the cluster with its throwaway settings; unless
# --fast, restart it production-like.
if [[ $fast != true || -n ${BENCH_PG_OPTS:-} ]]; then
  opts="-k $PG_SOCKET_DIR -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200"
  if [[ $fast == true ]]; then
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  else
    opts+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    opts+=" -c shared_buffers=1GB -c max_wal_size=4GB -c wal_level=replica"
  fi
  opts+=" ${BENCH_PG_OPTS:-}"
  pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
  pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_TMP/server.log" -w -t 60 start -o "$opts" >/dev/null ||
    { cat "$PG_TMP/server.log" >&2; exit 1; }
fi
profile=durable
[[ $fast == true ]] && profile=fast
echo "bench/run.sh: PostgreSQL 15 with pgvector on 127.0.0.1:$PG_PORT ($profile settings); Python $python" >&2

if [[ $bucket == true ]]; then
  # SeaweedFS on loopback; weed.sh exports S3_ENDPOINT, S3_BUCKET, the
  # AWS_* keys, WEED_TMP and WEED_PID, and stops it when this script exits.
  weed_bin=$(bash scripts/install-weed.sh | tail -n1)
  source scripts/weed.sh
  weed_start "$weed_bin"
  echo "bench/run.sh: SeaweedFS (weed mini, pid $WEED_PID) on $S3_ENDPOINT, bucket $S3_BUCKET" >&2
fi

"$tmp/bench" --database-url "$PG_URL" --pgdata "$PGDATA_DIR" --binary "$tmp/mcp-server" --python "$python" ${args[@]+"${args[@]}"}
