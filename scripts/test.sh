#!/usr/bin/env bash
# The test command: installs pgvector when missing and builds SeaweedFS's
# weed once per machine (scripts/install-weed.sh: some 7 minutes the first
# time, while the tests that need no S3 store run), starts a throwaway
# PostgreSQL with pgvector and a throwaway S3 store
# (weed mini), and runs every Go test against them; both are stopped and
# removed on exit. Extra arguments go to `go test` (default ./...).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-pgvector.sh
source scripts/pg.sh
source scripts/weed.sh

# weed's first build takes minutes and gigabytes of downloads: it runs in
# the background while PostgreSQL starts and the packages that need no S3
# store are tested; those whose tests use internal/s3test wait for it.
weed_out=$(mktemp) weed_err=$(mktemp)
bash scripts/install-weed.sh >"$weed_out" 2>"$weed_err" &
weed_build=$!
# The official MCP conformance suite (scripts/conformance.sh: 30-70 s of
# npm the first time, nothing later) installs the same way;
# cmd/mcp-server's TestConformance runs it.
conformance_out=$(mktemp) conformance_err=$(mktemp)
bash scripts/conformance.sh install >"$conformance_out" 2>"$conformance_err" &
conformance_install=$!

pg_start
echo "test.sh: PostgreSQL 15 with pgvector on 127.0.0.1:$PG_PORT" >&2
export TEST_DATABASE_URL=$PG_URL
# Tests also drive the server's own fault scenarios (stopping and starting
# this cluster); they find it through these.
export TEST_PGDATA=$PGDATA_DIR TEST_PG_BIN=$PG_BIN TEST_PG_OS_USER=$PG_OS_USER

# start_s3 waits for weed's build, starts the store and exports it for
# internal/s3test; weed_start also exported the keys as AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, and AWS_REGION. Tests that kill or pause a store
# start a private one from TEST_S3_WEED_BIN.
start_s3() {
  if ! wait "$weed_build"; then
    cat "$weed_err" >&2
    echo "test.sh: building SeaweedFS failed (above)" >&2
    exit 1
  fi
  cat "$weed_err" >&2
  weed_start "$(tail -n 1 "$weed_out")"
  rm -f "$weed_out" "$weed_err"
  echo "test.sh: SeaweedFS S3 on $S3_ENDPOINT, bucket $S3_BUCKET" >&2
  export TEST_S3_ENDPOINT=$S3_ENDPOINT TEST_S3_BUCKET=$S3_BUCKET \
    TEST_S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID TEST_S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
    TEST_S3_WEED_BIN=$WEED_BIN TEST_S3_DIR=$WEED_TMP
  # The conformance suite's install, waited for here too: its test is in
  # cmd/mcp-server, a package that needs the S3 store as well.
  if ! wait "$conformance_install"; then
    cat "$conformance_err" >&2
    echo "test.sh: installing the MCP conformance suite failed (above)" >&2
    exit 1
  fi
  cat "$conformance_err" >&2
  export TEST_MCP_CONFORMANCE=$(tail -n 1 "$conformance_out")
  rm -f "$conformance_out" "$conformance_err"
}

if [[ $# -gt 0 ]]; then
  start_s3
  go test -count=1 -timeout 15m "$@"
  exit
fi
s3test=github.com/vectorops/pgvector-backup-mcp/internal/s3test
others=() s3_packages=()
while read -r pkg imports; do
  if [[ $pkg == "$s3test" || " $imports " == *" $s3test "* ]]; then
    s3_packages+=("$pkg")
  else
    others+=("$pkg")
  fi
done < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...)
status=0
go test -count=1 -timeout 15m "${others[@]}" || status=$?
start_s3
go test -count=1 -timeout 15m "${s3_packages[@]}" || status=$?
if [[ $status -ne 0 ]]; then
  exit "$status"
fi

# The fuzzers, briefly (FUZZTIME=10m by hand for a longer run). Their seed
# corpora run as ordinary tests above; this explores beyond them. Bounded by
# executions, not time: Go 1.26's fuzzer can fail a target at its own
# -fuzztime deadline with no failing input (go.dev/issue/75804).
# One line per fuzzer; everything it printed when it finds a failure.
fuzztime=${FUZZTIME:-100000x}
fuzzlog=$(mktemp)
for target in legacyjson:FuzzConvert csvstream:FuzzReader backupfile:FuzzBinaryReader catalog:FuzzResolve dbaccess:FuzzResolve; do
  pkg=${target%%:*} name=${target##*:}
  if go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "./$pkg" >"$fuzzlog" 2>&1; then
    last=$(grep -o 'execs: [0-9]*' "$fuzzlog" | tail -n 1)
    echo "test.sh: fuzzed $name for $fuzztime: ${last:-no executions reported}, no failure"
  elif ! grep -q 'Failing input written to' "$fuzzlog" && grep -q 'context deadline exceeded' "$fuzzlog"; then
    # A duration FUZZTIME can meet go.dev/issue/75804: the fuzzer reports
    # its own deadline as a failure; no input failed.
    last=$(grep -o 'execs: [0-9]*' "$fuzzlog" | tail -n 1)
    echo "test.sh: fuzzed $name for $fuzztime: ${last:-no executions reported}, no failure (Go reported its own deadline, go.dev/issue/75804)"
  else
    cat "$fuzzlog"
    echo "test.sh: fuzzing $name found a failure (above); its input is saved under ./$pkg/testdata/fuzz/$name" >&2
    rm -f "$fuzzlog"
    exit 1
  fi
done
rm -f "$fuzzlog"
