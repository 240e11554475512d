package tools_test

import (
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// protocols are the MCP revisions clients speak: 2025-06-18 as desktop
// clients do today, and the newest this SDK knows.
var protocols = []string{mcp.ProtocolVersion20250618, mcp.LATEST_PROTOCOL_VERSION}

// newProject is a project root with the default backup root under it, as
// the pipeline lays it out, and no database.
func newProject(t *testing.T) *pgtest.Project {
	t.Helper()
	return pgtest.NewProject(t, pgtest.ProjectOptions{})
}

type serverConfig struct {
	db       string
	allow    []string
	readOnly bool
}

// newService is the service the server of p runs with cfg, as mcp-server
// builds it.
func newService(t *testing.T, p *pgtest.Project, cfg serverConfig) *service.Service {
	t.Helper()
	var allow []dbaccess.Pattern
	for _, a := range cfg.allow {
		pat, err := dbaccess.ParsePattern(a)
		if err != nil {
			t.Fatal(err)
		}
		allow = append(allow, pat)
	}
	return &service.Service{Catalog: p.Catalog(t), Policy: dbaccess.NewPolicy(cfg.db, allow)}
}

// connect starts an MCP server for p and returns an initialized in-process
// client speaking protocol.
func connect(t *testing.T, p *pgtest.Project, cfg serverConfig, protocol string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	srv, err := tools.NewServer(newService(t, p, cfg), tools.Options{ReadOnly: cfg.readOnly, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return mcptest.ConnectInProcess(t, srv, mcptest.Options{Protocol: protocol, Name: "tools-test", Client: opts})
}

// call calls a tool and returns its result with the structured content
// decoded into a map.
func call(t *testing.T, c *client.Client, name string, args any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	return mcptest.Call(t, c, name, args, nil)
}

var (
	structured = mcptest.Structured
	text       = mcptest.Text
)
