#!/usr/bin/env bash
# A lasting local sample database for trying mcp-server by hand:
#
#   scripts/sample-db.sh up       start it (made on first use) and print the
#                                 export lines that point mcp-server at it:
#                                 eval "$(scripts/sample-db.sh up)"
#   scripts/sample-db.sh status   say whether it runs, and where
#   scripts/sample-db.sh down     stop it and delete everything it made
#
# "up" installs pgvector when missing, starts a PostgreSQL 15 cluster on
# 127.0.0.1 at a free private port, creates the database vector_sample
# (marked as mcp-demo's own) and lets `go run ./cmd/mcp-demo -prepare` create
# the LangChain tables, fill them with a "bad retraining" to roll back and
# write the sample project (backup sets in the old pipeline's format). The
# cluster outlives the shell: nothing stops it but "down" (or a reboot, after
# which "up" starts the same cluster again). "up" on a running cluster only
# prints the exports again. Only the export lines go to stdout.
#
# Authentication is trust on loopback and the unix socket: the URL has no
# password, and any local user can connect as the superuser postgres. It is
# for sample data only.
#
# State: one folder per checkout of this repository (SAMPLE_DB_DIR overrides
# it), /var/tmp/pgvector-backup-mcp-sample.<uid>.<hash of the checkout's path>:
#   pg/       the cluster (data/, sock/, server.log), owned by the user the
#             server runs as ("postgres" when run as root)
#   project/  the sample project: VECTOR_PROJECT_ROOT
#   port      the port it listens on
#   ready     written when "up" has finished making it
# Not in the checkout or under $HOME: PostgreSQL refuses to run as root, and
# the postgres user must reach the data and socket folders, which it cannot
# beneath a private home such as /root; a unix socket path must also stay
# under 108 bytes. /var/tmp rather than /tmp: it is kept across reboots, so
# the sample database is too.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
source scripts/pg.sh

DB_NAME=vector_sample

say() { echo "sample-db: $*" >&2; }
die() {
  say "$*"
  exit 1
}

usage() {
  sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

state=${SAMPLE_DB_DIR:-/var/tmp/pgvector-backup-mcp-sample.$(id -u).$(printf %s "$repo" | sha256sum | cut -c1-12)}
# The path goes into server options and export lines unquoted by them.
[[ $state =~ ^/[A-Za-z0-9._/-]+$ ]] || die "SAMPLE_DB_DIR must be an absolute path of letters, digits and ._-/ only: $state"
state=${state%/}
sock_tail=/pg/sock/.s.PGSQL.00000
if ((${#state} + ${#sock_tail} > 107)); then
  die "$state is too long: the server's unix socket path beneath it must stay under 108 bytes"
fi

# check_state refuses a state folder that is not this user's own: a link, or
# something another user made (/var/tmp is writable by everyone).
check_state() {
  [[ -d $state && ! -L $state && -O $state ]] ||
    die "$state exists but is not a folder of yours; remove it or set SAMPLE_DB_DIR"
  local mode
  mode=$(stat -c %a "$state")
  ((8#$mode & 8#022)) && die "$state is writable by others (mode $mode); remove it or set SAMPLE_DB_DIR"
  return 0
}

# load sets pg.sh's variables for the cluster in the state folder.
load() {
  PGDATA_DIR=$state/pg/data
  PG_SOCKET_DIR=$state/pg/sock
  PG_OS_USER=$(id -un)
  if [[ $(id -u) -eq 0 && -d $state/pg ]]; then
    PG_OS_USER=$(stat -c %U "$state/pg")
  fi
  port=
  if [[ -f $state/port ]]; then
    port=$(<"$state/port")
    [[ $port =~ ^[0-9]+$ ]] || port=
  fi
}

running() {
  [[ -f $PGDATA_DIR/PG_VERSION ]] && pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

url() {
  echo "postgres://postgres@127.0.0.1:$port/$DB_NAME?sslmode=disable"
}

print_exports() {
  cat <<EOF
# pgvector-backup-mcp sample database: PostgreSQL 15 + pgvector on 127.0.0.1:$port.
# Trust authentication on loopback: no password, any local user may connect.
# State in $state; remove it all with: scripts/sample-db.sh down
export DATABASE_URL='$(url)'
export VECTOR_PROJECT_ROOT='$state/project'
EOF
}

# remove_state stops the cluster (if any) and deletes the state folder.
remove_state() {
  load
  if running; then
    pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      pg_run_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    running && die "could not stop the PostgreSQL server in $PGDATA_DIR; $state is left as it is"
  fi
  rm -rf "$state"
}

# A failed first "up" leaves nothing behind.
up_failed() {
  local rc=$?
  if [[ $rc -ne 0 && -d $state && ! -f $state/ready ]]; then
    say "setting up failed; removing $state"
    remove_state || true
  fi
  exit "$rc"
}

cmd_up() {
  bash scripts/install-pgvector.sh >&2
  if [[ -e $state || -L $state ]]; then
    check_state
    if [[ -f $state/ready ]]; then
      load
      if running; then
        say "already running on 127.0.0.1:$port"
      else
        say "starting the stopped cluster in $state"
        pg_launch "$state/pg/server.log" "" "$port" >&2
        port=$PG_PORT
        echo "$port" >"$state/port"
      fi
      print_exports
      return
    fi
    say "$state holds an unfinished setup; starting over"
    remove_state
  fi

  command -v go >/dev/null || die "the Go toolchain (go) is not on PATH: the sample data is written by go run ./cmd/mcp-demo -prepare"
  trap up_failed EXIT
  mkdir -m 755 "$state" || die "could not create $state"
  pg_os_user
  mkdir -m 755 "$state/pg"
  say "creating a PostgreSQL cluster in $state/pg (running as $PG_OS_USER)"
  pg_init "$state/pg"
  # A lasting cluster: PostgreSQL's durable defaults, unlike pg_start's.
  pg_launch "$state/pg/server.log" "" >&2
  port=$PG_PORT
  echo "$port" >"$state/port"
  say "PostgreSQL 15 with pgvector on 127.0.0.1:$port; creating database $DB_NAME"
  pg_create_demo_db "$DB_NAME"
  DATABASE_URL=$(url) go run ./cmd/mcp-demo -prepare -project "$state/project" >&2
  touch "$state/ready"
  trap - EXIT
  print_exports
}

cmd_status() {
  if [[ ! -e $state && ! -L $state ]]; then
    echo "no sample database (scripts/sample-db.sh up makes one in $state)"
    return 1
  fi
  check_state
  load
  if [[ ! -f $state/ready ]]; then
    echo "unfinished setup in $state (scripts/sample-db.sh up starts over, down removes it)"
    return 1
  fi
  if ! running; then
    echo "stopped: $state (scripts/sample-db.sh up starts it again, down removes it)"
    return 1
  fi
  echo "running: PostgreSQL 15 + pgvector on 127.0.0.1:$port, unix socket in $PG_SOCKET_DIR, as OS user $PG_OS_USER"
  echo "database: $(url)"
  echo "project:  $state/project"
  echo "log:      $state/pg/server.log"
}

cmd_down() {
  if [[ ! -e $state && ! -L $state ]]; then
    say "nothing to remove ($state does not exist)"
    return 0
  fi
  check_state
  load
  local was=
  running && was="stopped PostgreSQL on 127.0.0.1:$port and "
  remove_state
  say "${was}deleted $state"
}

[[ $# -eq 1 ]] || usage
case $1 in
up) cmd_up ;;
status) cmd_status ;;
down) cmd_down ;;
*) usage ;;
esac
