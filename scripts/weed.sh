# shellcheck shell=bash
# Sourced by the project's scripts: starts a throwaway S3-compatible object
# store (SeaweedFS's `weed mini`, built by scripts/install-weed.sh) in a temp
# dir, on private ports of 127.0.0.1 only, with a random access key and one
# bucket, and stops it (deleting everything) when the calling shell exits.
#
# weed_start [WEED_BIN] (default: $WEED_BIN) sets and exports
#   S3_ENDPOINT=http://127.0.0.1:PORT  S3_BUCKET (mcp-test, or $WEED_BUCKET)
#   AWS_ACCESS_KEY_ID  AWS_SECRET_ACCESS_KEY  AWS_REGION=us-east-1
#   WEED_BIN  WEED_TMP (everything: data/, weed.log, weed.pid, start.sh)
#   WEED_PID (the process started by weed_start)
# and installs an EXIT trap that runs weed_stop (after any EXIT trap already
# set, such as pg.sh's).
#
# weed_restart kills the store (SIGKILL: a crash) and starts it again on the
# same data dir, ports and keys; $WEED_TMP/start.sh does the start alone (it
# prints the new pid) for programs that want to restart the store
# themselves; the current pid is always in $WEED_TMP/weed.pid.
#
# Besides the temp dir weed makes one unix socket per gRPC port in /tmp
# (/tmp/seaweedfs-*-grpc-PORT.sock, not configurable); weed_stop removes them.
#
# weed runs as the current user (as root too: unlike PostgreSQL it does not
# refuse), with a clean environment: only PATH, HOME (the temp dir, so no
# ~/.seaweedfs configuration applies) and the two keys, so no WEED_* or S3_*
# variable of the caller's can change its configuration. Each of its
# listeners has an explicit port on 127.0.0.1 (master, volume, filer and S3,
# each with its gRPC port, and the admin server's); WebDAV, the Iceberg and
# Lance catalogs, the admin UI and telemetry are off, and so is creating a
# bucket on the first write to it (a missing bucket stays missing).

WEED_BUCKET=${WEED_BUCKET:-mcp-test}

# weed_hex N prints N random bytes in hex.
weed_hex() {
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# weed_ready: the S3 endpoint answers an authenticated request on the bucket
# (a ListObjectsV2 of at most one key) with 200.
weed_ready() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$S3_ENDPOINT/$S3_BUCKET?list-type=2&max-keys=1") || true
  [[ $code == 200 ]]
}

# weed_wait waits (up to 60 s) until the store started as WEED_PID answers;
# it fails at once when the process ends.
weed_wait() {
  local i
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$WEED_PID" 2>/dev/null; then
      return 1
    fi
    if weed_ready; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# weed_write_start_script writes $WEED_TMP/start.sh: starts weed in the
# background with this run's ports and keys, records and prints its pid.
weed_write_start_script() {
  local p=("$@") # master master.grpc volume volume.grpc filer filer.grpc s3 s3.grpc admin admin.grpc
  cat >"$WEED_TMP/start.sh" <<EOF
#!/usr/bin/env bash
# Starts this run's weed (written by scripts/weed.sh); prints its pid.
set -euo pipefail
cd '$WEED_TMP'
env -i PATH="\$PATH" HOME='$WEED_TMP' \\
  AWS_ACCESS_KEY_ID='$AWS_ACCESS_KEY_ID' AWS_SECRET_ACCESS_KEY='$AWS_SECRET_ACCESS_KEY' \\
  setsid '$WEED_BIN' mini -dir='$WEED_TMP/data' -ip=127.0.0.1 -ip.bind=127.0.0.1 \\
  -bucket='$S3_BUCKET' -master.telemetry=false -admin.ui=false \\
  -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.autoCreateBucket=false \\
  -master.port=${p[0]} -master.port.grpc=${p[1]} \\
  -volume.port=${p[2]} -volume.port.grpc=${p[3]} \\
  -filer.port=${p[4]} -filer.port.grpc=${p[5]} \\
  -s3.port=${p[6]} -s3.port.grpc=${p[7]} \\
  -admin.port=${p[8]} -admin.port.grpc=${p[9]} -admin.port.legacy=0 \\
  -filer.localSocket='$WEED_TMP/filer.sock' -s3.localSocket='$WEED_TMP/s3.sock' \\
  </dev/null >>'$WEED_TMP/weed.log' 2>&1 &
echo \$! >'$WEED_TMP/weed.pid'
echo \$!
EOF
  chmod 755 "$WEED_TMP/start.sh"
  # weed also listens on unix sockets named after the gRPC ports, always in
  # /tmp, and leaves them behind when killed; weed_stop removes these.
  printf '%s\n' "/tmp/seaweedfs-master-grpc-${p[1]}.sock" "/tmp/seaweedfs-volume-grpc-${p[3]}.sock" \
    "/tmp/seaweedfs-filer-grpc-${p[5]}.sock" "/tmp/seaweedfs-s3-grpc-${p[7]}.sock" \
    "/tmp/seaweedfs-admin-grpc-${p[9]}.sock" >"$WEED_TMP/sockets"
}

# weed_ports prints 10 distinct random ports in 20000-32767 (private, and
# below Linux's ephemeral range, from which outgoing connections take theirs).
weed_ports() {
  local -A seen=()
  local n=0 p
  while [[ $n -lt 10 ]]; do
    p=$((20000 + RANDOM % 12768))
    [[ -z ${seen[$p]:-} ]] || continue
    seen[$p]=1
    echo "$p"
    n=$((n + 1))
  done
}

# weed_trap_exit adds weed_stop to the shell's EXIT trap, after what the trap
# already runs (pg.sh's pg_stop, say).
weed_trap_exit() {
  local prev=() cmd
  eval "prev=($(trap -p EXIT | sed 's/^trap -- //'))"
  cmd=${prev[0]:-}
  case $cmd in
  *weed_stop*) ;;
  '') trap weed_stop EXIT ;;
  *) trap "$cmd; weed_stop" EXIT ;;
  esac
}

weed_start() {
  WEED_BIN=${1:-${WEED_BIN:-}}
  if [[ -z $WEED_BIN || ! -x $WEED_BIN ]]; then
    echo "weed.sh: weed_start needs the weed binary (scripts/install-weed.sh prints its path)" >&2
    return 1
  fi
  WEED_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vector-s3.XXXXXX")
  mkdir -p "$WEED_TMP/data"
  weed_trap_exit
  AWS_ACCESS_KEY_ID=$(weed_hex 10)
  AWS_SECRET_ACCESS_KEY=$(weed_hex 20)
  AWS_REGION=us-east-1
  S3_BUCKET=$WEED_BUCKET
  local try ports
  # Explicit ports: weed refuses one that is taken, so try a few sets.
  for try in 1 2 3 4 5; do
    mapfile -t ports < <(weed_ports)
    S3_ENDPOINT=http://127.0.0.1:${ports[6]}
    weed_write_start_script "${ports[@]}"
    : >"$WEED_TMP/weed.log"
    WEED_PID=$("$WEED_TMP/start.sh")
    if weed_wait; then
      export S3_ENDPOINT S3_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION WEED_BIN WEED_TMP WEED_PID
      return 0
    fi
    weed_kill
    weed_rm_sockets
    if ! grep -qi 'not available\|address already in use' "$WEED_TMP/weed.log"; then
      break # not a port clash: trying again will not help
    fi
    rm -rf "$WEED_TMP/data" && mkdir -p "$WEED_TMP/data"
  done
  echo "weed.sh: could not start weed mini; its log:" >&2
  tail -n 50 "$WEED_TMP/weed.log" >&2
  return 1
}

# weed_kill kills the current weed process (SIGKILL) and waits for it to go.
weed_kill() {
  local pid i
  pid=$(cat "$WEED_TMP/weed.pid" 2>/dev/null) || return 0
  kill -KILL "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
}

# weed_restart kills the store and starts it again on the same data dir,
# ports and keys, and waits until it answers.
weed_restart() {
  weed_kill
  WEED_PID=$("$WEED_TMP/start.sh")
  export WEED_PID
  weed_wait || {
    echo "weed.sh: weed did not come back; its log:" >&2
    tail -n 50 "$WEED_TMP/weed.log" >&2
    return 1
  }
}

# weed_rm_sockets removes the unix sockets weed left in /tmp.
weed_rm_sockets() {
  local sock
  [[ -f $WEED_TMP/sockets ]] || return 0
  while read -r sock; do
    rm -f "$sock"
  done <"$WEED_TMP/sockets"
}

weed_stop() {
  [[ -n ${WEED_TMP:-} && -d $WEED_TMP ]] || return 0
  weed_kill
  weed_rm_sockets
  rm -rf "$WEED_TMP"
}
