package tools_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// protocols are the MCP revisions clients speak: 2025-06-18 as desktop
// clients do today, and the newest this SDK knows.
var protocols = []string{mcp.ProtocolVersion20250618, mcp.LATEST_PROTOCOL_VERSION}

// project is a project root with a backup root under it, as the pipeline
// lays it out.
type project struct {
	root, backups string
}

func newProject(t *testing.T) project {
	t.Helper()
	root := t.TempDir()
	p := project{root: root, backups: filepath.Join(root, "data_pipeline", "training_data")}
	if err := os.MkdirAll(p.backups, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// write puts d as a legacy set in the backup root's folder rel.
func (p project) write(t *testing.T, d *sample.Dataset, rel, ts string, l sample.Layout) {
	t.Helper()
	if err := d.WriteLegacy(filepath.Join(p.backups, rel), ts, l); err != nil {
		t.Fatal(err)
	}
}

type serverConfig struct {
	db       string
	allow    []string
	readOnly bool
}

// connect starts an MCP server for p and returns an initialized in-process
// client speaking protocol.
func connect(t *testing.T, p project, cfg serverConfig, protocol string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	cat, err := catalog.New(p.root, "data_pipeline/training_data")
	if err != nil {
		t.Fatal(err)
	}
	var allow []dbaccess.Pattern
	for _, a := range cfg.allow {
		pat, err := dbaccess.ParsePattern(a)
		if err != nil {
			t.Fatal(err)
		}
		allow = append(allow, pat)
	}
	svc := &service.Service{Catalog: cat, Policy: dbaccess.NewPolicy(cfg.db, allow)}
	srv, err := tools.NewServer(svc, tools.Options{ReadOnly: cfg.readOnly, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, client.WithProtocolVersion(protocol))
	c, err := client.NewInProcessClientWithOptions(srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = protocol
	init.Params.ClientInfo = mcp.Implementation{Name: "tools-test", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize (%s): %v", protocol, err)
	}
	if res.ProtocolVersion != protocol {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, protocol)
	}
	return c
}

// call calls a tool and returns its result with the structured content
// decoded into a map.
func call(t *testing.T, c *client.Client, name string, args any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res, structured(t, res)
}

func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("structured content is not an object: %s", b)
	}
	return m
}

func text(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}
