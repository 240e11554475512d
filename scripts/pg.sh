# shellcheck shell=bash
# Sourced by the project's scripts: starts a throwaway PostgreSQL 15 cluster
# with pgvector in a temp dir, on a unix socket and a private loopback port,
# and stops it (deleting everything) when the calling shell exits.
#
# After pg_start: PGDATA_DIR, PG_SOCKET_DIR, PG_PORT and PG_URL are set.
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# unprivileged "postgres" user (created when missing).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_run_as() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  PG_OS_USER=$(id -un)
  if [[ $(id -u) -eq 0 ]]; then
    PG_OS_USER=postgres
    id -u "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
  fi
  PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vector-pg.XXXXXX")
  chmod 755 "$PG_TMP"
  PGDATA_DIR=$PG_TMP/data
  PG_SOCKET_DIR=$PG_TMP/sock
  mkdir -p "$PGDATA_DIR" "$PG_SOCKET_DIR"
  chown -R "$PG_OS_USER" "$PG_TMP"
  trap pg_stop EXIT

  pg_run_as "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PG_TMP/initdb.log" 2>&1 ||
    { cat "$PG_TMP/initdb.log" >&2; return 1; }

  # Try a few private ports: another cluster (or a parallel run) may hold one.
  local try
  for try in 1 2 3 4 5 6 7 8; do
    PG_PORT=$((20000 + RANDOM % 20000))
    if pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_TMP/server.log" -w -t 60 start \
      -o "-k $PG_SOCKET_DIR -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null; then
      break
    fi
    PG_PORT=
  done
  if [[ -z $PG_PORT ]]; then
    echo "pg.sh: could not start PostgreSQL; its log:" >&2
    cat "$PG_TMP/server.log" >&2
    return 1
  fi
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  export PG_URL PG_PORT PG_SOCKET_DIR PGDATA_DIR
}

pg_stop() {
  [[ -n ${PGDATA_DIR:-} && -d $PGDATA_DIR ]] || return 0
  pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}
