package httpapi_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// protocols are the MCP revisions remote clients speak: 2025-06-18 (with an
// initialize handshake and a session), and the newest this SDK knows.
var protocols = []string{mcp.ProtocolVersion20250618, mcp.LATEST_PROTOCOL_VERSION}

// mcpClient connects mcp-go's streamable HTTP client to the rig's /mcp.
func (r *rig) mcpClient(t *testing.T, protocol string, headers map[string]string) (*client.Client, error) {
	t.Helper()
	trans, err := transport.NewStreamableHTTP(r.url+"/mcp", transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := mcptest.Dial(t, trans, mcptest.Options{Protocol: protocol, Name: "httpapi-test"})
	return c, err
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any, meta *mcp.Meta) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	return mcptest.Call(t, c, name, args, meta)
}

// TestMCPOverHTTP serves the four tools at /mcp, behind the token, to
// mcp-go's streamable HTTP client in both protocol eras: it lists, rolls the
// tables back through the confirmation-token flow with progress, and the
// tables end exactly as the backup.
func TestMCPOverHTTP(t *testing.T) {
	const token = "mcp-over-http-token"
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			r := newRig(t, rigOptions{opts: httpapiOptions(token), confirm: true})
			if _, err := r.mcpClient(t, protocol, nil); err == nil {
				t.Fatal("a client without the token connected")
			}
			c, err := r.mcpClient(t, protocol, map[string]string{"Authorization": "Bearer " + token})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tool := range tools.Tools {
				got = append(got, tool.Name)
			}
			slices.Sort(got)
			if want := []string{"create_vector_backup", "inspect_vector_backup", "list_vector_backups", "restore_vector_backup"}; !slices.Equal(got, want) {
				t.Errorf("tools %v, want %v", got, want)
			}

			res, list := callTool(t, c, "list_vector_backups", map[string]any{"limit": 1}, nil)
			if res.IsError || list["summary"].(map[string]any)["total_backup_sets"] != 2.0 || list["next_cursor"] == nil {
				t.Fatalf("list: %v", list)
			}
			// Nothing to replace yet: no confirmation needed.
			if res, out := callTool(t, c, "restore_vector_backup", map[string]any{"backup_path": taskPath, "timestamp": taskTS, "truncate_before_restore": true}, nil); res.IsError {
				t.Fatalf("seed restore: %v", out)
			}
			before := pgtest.Dump(t, r.db)

			args := map[string]any{"backup_path": globalPath, "timestamp": globalTS, "truncate_before_restore": true}
			res, out := callTool(t, c, "restore_vector_backup", args, nil)
			if !res.IsError || out["error_type"] != "CONFIRMATION_REQUIRED" {
				t.Fatalf("a replacing restore ran unconfirmed: %v", out)
			}
			if got := pgtest.Dump(t, r.db); got != before {
				t.Fatal("asking for confirmation changed the tables")
			}
			args["confirm_token"] = out["confirm_token"]
			var mu sync.Mutex
			progress := 0
			c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationProgress) {
					mu.Lock()
					progress++
					mu.Unlock()
				}
			})
			res, out = callTool(t, c, "restore_vector_backup", args, &mcp.Meta{ProgressToken: "p1"})
			if res.IsError || out["restore_performed"] != true {
				t.Fatalf("confirmed restore: %v", out)
			}
			pgtest.Compare(t, r.db, r.b, sample.Default)
			snap, _ := out["snapshot"].(map[string]any)
			if snap == nil || snap["undo"] == nil {
				t.Errorf("no snapshot with undo arguments: %v", out)
			}
			emb := out["restore_results"].(map[string]any)["langchain_pg_embedding"].(map[string]any)
			if emb["source_file"] != "langchain_pg_embedding_"+globalTS+".csv" {
				t.Errorf("source_file %v, want the file's name only", emb["source_file"])
			}
			mu.Lock()
			defer mu.Unlock()
			if progress == 0 {
				t.Error("no progress notifications over HTTP")
			}
		})
	}
}
