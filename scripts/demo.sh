#!/usr/bin/env bash
# Runs the product on its own: installs pgvector when missing, starts a
# throwaway PostgreSQL, builds mcp-server, writes sample backups, and drives
# the server over stdio with a real MCP client, printing what an agent sees;
# then shows the same backups through the operator command line. Everything
# is deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-pgvector.sh
source scripts/pg.sh
pg_start

bin=$(mktemp -d)
trap 'rm -rf "$bin"; pg_stop' EXIT
go build -o "$bin/mcp-server" ./cmd/mcp-server
# Marked as the demo's own: mcp-demo drops and recreates the tables only in
# a database that carries the mark.
pg_create_demo_db vectordemo
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/vectordemo?sslmode=disable"
go run ./cmd/mcp-demo -server "$bin/mcp-server" -project "$bin/project"

printf '\n== The same backups at a terminal: mcp-server list\n'
"$bin/mcp-server" list --project-root "$bin/project"
