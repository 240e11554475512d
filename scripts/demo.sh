#!/usr/bin/env bash
# Runs the product on its own: installs pgvector when missing, starts a
# throwaway PostgreSQL, builds mcp-server, writes sample backups, and drives
# the server over stdio with a real MCP client, printing what an agent sees.
# Everything is deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-pgvector.sh
source scripts/pg.sh
pg_start

bin=$(mktemp -d)
trap 'rm -rf "$bin"; pg_stop' EXIT
go build -o "$bin/mcp-server" ./cmd/mcp-server
psql -q "$PG_URL" -c "CREATE DATABASE vectordemo" >/dev/null 2>&1 || true
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/vectordemo?sslmode=disable" \
  go run ./cmd/mcp-demo -server "$bin/mcp-server" -project "$bin/project"
