#!/usr/bin/env bash
# Builds SeaweedFS's `weed` binary, the S3-compatible object store the tests
# run against (scripts/weed.sh starts it), and prints its path on the last
# line of standard output. Idempotent: when the binary is already built and
# answers `weed version`, it only prints the path.
#
# There is no Debian package of SeaweedFS, and `go install .../weed@VERSION`
# refuses the module because its go.mod has a replace directive. So the
# binary is built from a small wrapper module in a cache folder outside the
# repository, ${XDG_CACHE_HOME:-$HOME/.cache}/pgvector-backup-mcp/weed-VERSION/,
# whose go.mod requires SeaweedFS at WEED_VERSION as a tool (a go.mod `tool`
# line) and copies SeaweedFS's replace line. Modules come from the Go module
# proxy this machine's `go env` names. The first build takes about 7 minutes
# and some 4 GB of module cache on a 2-core machine; later runs reuse it.
# Concurrent runs wait for each other (flock).
#
# Quiet unless it builds (one line on standard error) or fails (the tail of
# the build log on standard error).
set -euo pipefail

WEED_VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgvector-backup-mcp
dir=$cache/weed-$WEED_VERSION
bin=$dir/weed

# ready: the binary exists and runs.
ready() {
  [[ -x $bin ]] && "$bin" version >/dev/null 2>&1
}

if ready; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if ready; then # another run built it while this one waited
  echo "$bin"
  exit 0
fi

start=$SECONDS
log=$dir/build.log
mod=$dir/mod
rm -rf "$mod"
mkdir -p "$mod"
cat >"$mod/go.mod" <<EOF
module pgvector-backup-mcp/weed-build

go 1.25

require github.com/seaweedfs/seaweedfs $WEED_VERSION

tool github.com/seaweedfs/seaweedfs/weed

// Copied from SeaweedFS's own go.mod: replace lines of a dependency do not
// apply, so the wrapper repeats it.
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
EOF

if ! (
  cd "$mod"
  # go mod tidy resolves the whole build list (and go.sum) for the tool line;
  # no toolchain switch: build with the Go this machine has.
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
  go mod tidy
  go build -trimpath -ldflags='-s -w' -o "$bin.tmp" github.com/seaweedfs/seaweedfs/weed
) >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install-weed: building weed $WEED_VERSION failed; the full log is $log" >&2
  exit 1
fi
mv -f "$bin.tmp" "$bin"
if ! ready; then
  echo "install-weed: the built $bin does not answer 'weed version'" >&2
  exit 1
fi
echo "install-weed: built weed $WEED_VERSION into $bin in $((SECONDS - start))s" >&2
echo "$bin"
