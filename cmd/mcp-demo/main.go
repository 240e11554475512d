// Command mcp-demo shows the server working end to end, as an agent sees it:
// it lays out a sample project with backups in the old pipeline's format,
// fills the database with "bad retraining" data, then starts mcp-server on
// stdio with a real MCP client session, lists the backups and rolls the
// tables back, printing what the agent reads at each step.
//
// scripts/demo.sh runs it against a throwaway PostgreSQL.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

func main() {
	serverBin := flag.String("server", "bin/mcp-server", "path of the built mcp-server binary")
	project := flag.String("project", "", "project root to create (default: a new temp dir)")
	flag.Parse()
	if err := run(context.Background(), *serverBin, *project, os.Getenv("DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-demo:", err)
		os.Exit(1)
	}
}

const dim = 8

func run(ctx context.Context, serverBin, project, dbURL string) error {
	if dbURL == "" {
		return fmt.Errorf("DATABASE_URL is not set (scripts/demo.sh sets it)")
	}
	if project == "" {
		dir, err := os.MkdirTemp("", "vector-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir) // a sample project the demo made is its own to delete
		project = dir
	}
	good := sample.Generate(1, []string{"sql", "ddl", "documentation", "error_sql"}, 12, dim)
	if err := layOut(project, good); err != nil {
		return err
	}
	if err := badRetraining(ctx, dbURL); err != nil {
		return err
	}
	heading("Database before: a bad retraining left this")
	if err := printCounts(ctx, dbURL); err != nil {
		return err
	}

	c, err := client.NewStdioMCPClientWithOptions(serverBin,
		[]string{"DATABASE_URL=" + dbURL, "VECTOR_PROJECT_ROOT=" + project, "PATH=" + os.Getenv("PATH")}, nil)
	if err != nil {
		return fmt.Errorf("start %s: %w", serverBin, err)
	}
	defer c.Close()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	init.Params.ClientInfo = mcp.Implementation{Name: "mcp-demo", Version: "1"}
	info, err := c.Initialize(ctx, init)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	heading(fmt.Sprintf("Connected to %s %s over stdio (protocol %s)", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion))

	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	for _, t := range tools.Tools {
		a := t.Annotations
		fmt.Printf("  %-24s read-only=%v destructive=%v idempotent=%v open-world=%v\n",
			t.Name, *a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint)
	}

	heading("Agent calls list_vector_backups {}")
	if _, err := callAndShow(ctx, c, schemas.ListTool, map[string]any{}, 0); err != nil {
		return err
	}

	heading("Agent calls restore_vector_backup with a bad timestamp (the error tells it how to fix the call)")
	if _, err := callAndShow(ctx, c, schemas.RestoreTool, map[string]any{
		"backup_path": "./data_pipeline/training_data/task_20250721_213627/vector_bak", "timestamp": "2025-07-21",
	}, 0); err != nil {
		return err
	}

	args := map[string]any{
		"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
		"timestamp":               "20250721_215758",
		"truncate_before_restore": true,
	}
	heading("Agent calls inspect_vector_backup to see what a rollback would do")
	if _, err := callAndShow(ctx, c, schemas.InspectTool, args, 12); err != nil {
		return err
	}

	b, _ := json.Marshal(args)
	heading("Agent calls restore_vector_backup " + string(b))
	res, err := callAndShow(ctx, c, schemas.RestoreTool, args, 8)
	if err != nil {
		return err
	}
	token, _ := structured(res)["confirm_token"].(string)
	if token == "" {
		return fmt.Errorf("expected CONFIRMATION_REQUIRED with a confirm_token")
	}

	heading("The user approves the plan; agent calls again with confirm_token")
	args["confirm_token"] = token
	res, err = callAndShow(ctx, c, schemas.RestoreTool, args, 0)
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("the restore failed")
	}
	if snap, ok := structured(res)["snapshot"].(map[string]any); ok {
		undo, _ := json.Marshal(snap["undo"])
		fmt.Printf("  The replaced rows were saved first; to undo: restore_vector_backup %s\n", undo)
	}

	heading("Database after the rollback")
	return printCounts(ctx, dbURL)
}

func structured(res *mcp.CallToolResult) map[string]any {
	m, _ := res.StructuredContent.(map[string]any)
	return m
}

// layOut writes the project's backup root as the pipeline would have.
func layOut(project string, good *sample.Dataset) error {
	root := filepath.Join(project, "data_pipeline", "training_data")
	older := sample.Generate(2, []string{"sql", "ddl"}, 5, dim)
	sets := []struct {
		dir, ts string
		data    *sample.Dataset
	}{
		{"vector_bak", "20250715_090000", older},
		{"global_vector_bak", "20250722_010318", older},
		{"task_20250721_213627/vector_bak", "20250721_215758", good},
		{"manual_20250722_101500/vector_bak", "20250722_101500", older},
	}
	for _, s := range sets {
		if err := s.data.WriteLegacy(filepath.Join(root, s.dir), s.ts, sample.Default); err != nil {
			return fmt.Errorf("write sample backup %s: %w", s.dir, err)
		}
	}
	fmt.Printf("Sample project: %s\n", project)
	return nil
}

// badRetraining creates the tables and fills them with data to roll back.
func badRetraining(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	ddl := "DROP TABLE IF EXISTS langchain_pg_embedding, langchain_pg_collection;\n" + sample.Default.DDL(dim)
	if _, err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	_, err = conn.Exec(ctx, `
		INSERT INTO langchain_pg_collection (uuid, name) VALUES ('00000000-0000-4000-8000-000000000001', 'sql');
		INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
		SELECT 'bad-' || i, '00000000-0000-4000-8000-000000000001', '[0,0,0,0,0,0,0,1]', 'SELECT * FROM wrong_table', '{"source": "bad retraining"}'
		FROM generate_series(1, 3) i;`)
	return err
}

func printCounts(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT c.name, count(e.*) FROM langchain_pg_collection c
		LEFT JOIN langchain_pg_embedding e ON e.collection_id = c.uuid
		GROUP BY c.name ORDER BY c.name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		fmt.Printf("  collection %-14s %3d embeddings\n", name, n)
	}
	return rows.Err()
}

// callAndShow calls a tool and prints what the agent reads: the text, then
// the first jsonLines lines of the structured content.
func callAndShow(ctx context.Context, c *client.Client, name string, args map[string]any, jsonLines int) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	for _, content := range res.Content {
		if t, ok := content.(mcp.TextContent); ok {
			fmt.Println(indent(t.Text, "  text> "))
		}
	}
	if jsonLines > 0 {
		b, _ := json.MarshalIndent(res.StructuredContent, "", "  ")
		fmt.Println(indent(clip(string(b), jsonLines), "  json> "))
	}
	return res, nil
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// clip keeps the first n lines of s.
func clip(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... (%d more lines)", len(lines)-n)
}

func heading(s string) {
	fmt.Printf("\n== %s\n", s)
}
