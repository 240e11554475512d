# shellcheck shell=bash
# Sourced by the project's scripts: starts a throwaway PostgreSQL 15 cluster
# with pgvector in a temp dir, on a unix socket and a private loopback port,
# and stops it (deleting everything) when the calling shell exits.
#
# After pg_start: PGDATA_DIR, PG_SOCKET_DIR, PG_PORT and PG_URL are set.
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# unprivileged "postgres" user (created when missing).
#
# pg_start is built from pg_os_user, pg_init and pg_launch, which
# scripts/sample-db.sh also uses for its lasting cluster (in a folder of its
# own, with no EXIT trap); pg_create_demo_db makes the database cmd/mcp-demo
# may fill. pg_start also gives its server the locales of pg_locales, so that
# tests can SET lc_messages = 'de_DE.UTF-8' (or fr_FR.UTF-8) and see the
# server's translated messages.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_run_as() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

# pg_os_user sets PG_OS_USER, the user the server runs as: the current one,
# or as root "postgres" (created when missing).
pg_os_user() {
  PG_OS_USER=$(id -un)
  if [[ $(id -u) -eq 0 ]]; then
    PG_OS_USER=postgres
    id -u "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
  fi
}

# pg_init DIR makes a new cluster in DIR/data (trust authentication, user
# postgres) with its socket folder DIR/sock, all owned by PG_OS_USER; initdb's
# output goes to DIR/initdb.log. DIR must exist, and PG_OS_USER must be able
# to reach it (every parent folder searchable). Sets PGDATA_DIR and
# PG_SOCKET_DIR.
pg_init() {
  local dir=$1
  PGDATA_DIR=$dir/data
  PG_SOCKET_DIR=$dir/sock
  # Each step returns on failure itself: a caller's "pg_init || ..." turns
  # set -e off in here.
  mkdir -p "$PGDATA_DIR" "$PG_SOCKET_DIR" || return 1
  chown -R "$PG_OS_USER" "$dir" || return 1

  pg_run_as "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
}

# pg_launch LOG OPTS [PORT] starts the cluster in PGDATA_DIR, listening on
# 127.0.0.1 only and on PG_SOCKET_DIR, with the extra server options OPTS
# and its log in LOG (a file PG_OS_USER may write). It tries PORT first when
# given, then a few random private ports. Sets and exports PG_PORT and PG_URL
# (database postgres), PG_SOCKET_DIR and PGDATA_DIR.
#
# When PG_LOCPATH is set (pg_locales sets it) the server runs with it as
# LOCPATH, and without LANGUAGE, which would override its lc_messages.
pg_launch() {
  local log=$1 opts=$2 first=${3:-} try env=()
  if [[ -n ${PG_LOCPATH:-} ]]; then
    env=(env -u LANGUAGE "LOCPATH=$PG_LOCPATH")
  fi
  # Try a few private ports: another cluster (or a parallel run) may hold one.
  for try in 1 2 3 4 5 6 7 8; do
    PG_PORT=$((20000 + RANDOM % 20000))
    if [[ $try -eq 1 && -n $first ]]; then
      PG_PORT=$first
    fi
    if pg_run_as "${env[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$log" -w -t 60 start \
      -o "-k $PG_SOCKET_DIR -p $PG_PORT -c listen_addresses=127.0.0.1 $opts" >/dev/null; then
      break
    fi
    PG_PORT=
  done
  if [[ -z $PG_PORT ]]; then
    echo "pg.sh: could not start PostgreSQL; its log:" >&2
    cat "$log" >&2
    return 1
  fi
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  export PG_URL PG_PORT PG_SOCKET_DIR PGDATA_DIR
}

pg_start() {
  pg_os_user
  PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vector-pg.XXXXXX")
  chmod 755 "$PG_TMP"
  trap pg_stop EXIT
  pg_init "$PG_TMP" || return 1
  pg_locales "$PG_TMP"
  # Throwaway: durability off, nothing in it outlives the run.
  pg_launch "$PG_TMP/server.log" "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
}

# The locales pg_locales makes (glibc names; each as NAME.UTF-8), and the
# folder of the system's compiled locales, where C.UTF-8 is: LOCPATH replaces
# the system's search, so it must name that folder too.
PG_LOCALES=${PG_LOCALES:-de_DE fr_FR}
PG_SYSTEM_LOCPATH=${PG_SYSTEM_LOCPATH:-/usr/lib/locale}

# pg_locale_loads LOCPATH NAME: whether a program run with LOCPATH can set
# the locale NAME (a UTF-8 one).
pg_locale_loads() {
  [[ $(LOCPATH=$1 LC_ALL=$2 locale charmap 2>/dev/null) == UTF-8 ]]
}

# pg_locales_ok DIR: whether DIR holds every one of PG_LOCALES, and the
# system's C.UTF-8 (the clusters' own locale) still loads beside it.
pg_locales_ok() {
  local name
  [[ -d $1 ]] || return 1
  for name in C $PG_LOCALES; do
    pg_locale_loads "$1:$PG_SYSTEM_LOCPATH" "$name.UTF-8" || return 1
  done
}

# pg_locales DIR compiles PG_LOCALES for UTF-8 with localedef, once: they
# are kept in a cache folder of the user's (per glibc version, whose
# compiled format they follow) and copied to DIR/locales, where the server's
# user can read them. Sets PG_LOCPATH for pg_launch. The machine needs no
# generated locale and nothing is installed system-wide. When they cannot be
# made the server starts without them (one warning line), and the tests that
# need them fail in CI and are skipped elsewhere.
pg_locales() {
  local dir=$1 cache tmp name pids=() pid glibc
  PG_LOCPATH=
  glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | tr -c 'A-Za-z0-9.\n' '-') || true
  cache=$dir/locales-cache # no cache folder: made for this run only
  if [[ -n ${XDG_CACHE_HOME:-} || -n ${HOME:-} ]]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgvector-backup-mcp/locales-$glibc
  fi
  if ! pg_locales_ok "$cache"; then
    # Made beside the cache and renamed into place: a parallel run sees the
    # whole set or none.
    if mkdir -p "$(dirname "$cache")" 2>/dev/null && tmp=$(mktemp -d "$cache.new.XXXXXX" 2>/dev/null); then
      for name in $PG_LOCALES; do
        localedef -i "$name" -f UTF-8 "$tmp/$name.utf8" >"$tmp/$name.log" 2>&1 &
        pids+=($!)
      done
      for pid in "${pids[@]}"; do
        wait "$pid" || true # localedef may exit 1 over mere warnings; the check below decides
      done
      rm -f "$tmp"/*.log || true
      if pg_locales_ok "$tmp" && chmod -R a+rX "$tmp" && rm -rf "$cache"; then
        mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp" || true # a parallel run put its own there
      else
        rm -rf "$tmp" || true
      fi
    fi
  fi
  if pg_locales_ok "$cache" && cp -a "$cache" "$dir/locales" && chmod -R a+rX "$dir/locales" && pg_locales_ok "$dir/locales"; then
    PG_LOCPATH=$dir/locales:$PG_SYSTEM_LOCPATH
  else
    echo "pg.sh: warning: could not make the locales $PG_LOCALES with localedef; the server runs without them and the tests of a translated lc_messages fail in CI and are skipped elsewhere" >&2
  fi
}

pg_stop() {
  [[ -n ${PGDATA_DIR:-} && -d $PGDATA_DIR ]] || return 0
  pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}

# The comment that marks a database as cmd/mcp-demo's own: mcp-demo drops and
# recreates the LangChain tables only in a database whose comment starts with
# "created by mcp-demo" (demoMark in cmd/mcp-demo/main.go).
PG_DEMO_MARK='created by mcp-demo: sample data; mcp-demo may drop and recreate its LangChain tables'

# pg_create_demo_db NAME [ADMIN_URL] creates database NAME (a plain
# identifier) on the cluster at ADMIN_URL (default PG_URL) and marks it with
# PG_DEMO_MARK.
pg_create_demo_db() {
  local db=$1 url=${2:-$PG_URL}
  if [[ ! $db =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "pg.sh: pg_create_demo_db: $db is not a plain database name" >&2
    return 1
  fi
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$url" \
    -c "CREATE DATABASE $db" \
    -c "COMMENT ON DATABASE $db IS '$PG_DEMO_MARK'" >/dev/null
}
