#!/usr/bin/env bash
# The test command: installs pgvector when missing, starts a throwaway
# PostgreSQL with it, and runs every Go test against that database.
# Extra arguments go to `go test` (default ./...).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-pgvector.sh
source scripts/pg.sh
pg_start
echo "test.sh: PostgreSQL 15 with pgvector on 127.0.0.1:$PG_PORT" >&2

export TEST_DATABASE_URL=$PG_URL
# Tests also drive the server's own fault scenarios (stopping and starting
# this cluster); they find it through these.
export TEST_PGDATA=$PGDATA_DIR TEST_PG_BIN=$PG_BIN TEST_PG_OS_USER=$PG_OS_USER

if [[ $# -gt 0 ]]; then
  go test -count=1 -timeout 15m "$@"
  exit
fi
go test -count=1 -timeout 15m ./...

# The fuzzers, briefly (FUZZTIME=10m by hand for a longer run). Their seed
# corpora run as ordinary tests above; this explores beyond them.
fuzztime=${FUZZTIME:-10s}
for target in legacyjson:FuzzConvert csvstream:FuzzReader catalog:FuzzResolve; do
  pkg=${target%%:*} name=${target##*:}
  echo "test.sh: fuzzing $name for $fuzztime" >&2
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "./$pkg"
done
