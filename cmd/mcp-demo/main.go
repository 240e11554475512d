// Command mcp-demo shows the server working end to end, as an agent sees it:
// it lays out a sample project with backups in the old pipeline's format,
// fills the database with "bad retraining" data, then starts mcp-server on
// stdio with a real MCP client session, lists the backups and rolls the
// tables back, printing what the agent reads at each step.
//
// With -prepare it only writes the sample project and fills the database,
// then exits: scripts/sample-db.sh uses that for a lasting sample database.
//
// It drops and recreates the LangChain tables only in a database marked as
// its own (a comment starting "created by mcp-demo", which scripts/demo.sh
// and scripts/sample-db.sh set when they create it), and refuses a database
// without the mark that already holds the tables.
//
// scripts/demo.sh runs it against a throwaway PostgreSQL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
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
	prepareOnly := flag.Bool("prepare", false, "only write the sample project (-project, required) and create and fill the tables in DATABASE_URL, then exit without starting the server")
	flag.Parse()
	ctx := context.Background()
	dbURL := os.Getenv("DATABASE_URL")
	var err error
	if *prepareOnly {
		err = prepareOnlyCmd(ctx, *project, dbURL)
	} else {
		err = run(ctx, *serverBin, *project, dbURL)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcp-demo:", err)
		os.Exit(1)
	}
}

const dim = 8

// demoMark starts the comment (COMMENT ON DATABASE) that marks a database as
// mcp-demo's own: only there does it drop and recreate the LangChain tables.
// scripts/pg.sh's pg_create_demo_db sets it (PG_DEMO_MARK) when
// scripts/demo.sh or scripts/sample-db.sh create their database.
const demoMark = "created by mcp-demo"

// prepareOnlyCmd is -prepare: the sample project and the tables, no server.
func prepareOnlyCmd(ctx context.Context, project, dbURL string) error {
	if dbURL == "" {
		return fmt.Errorf("DATABASE_URL is not set (scripts/sample-db.sh sets it)")
	}
	if project == "" {
		return fmt.Errorf("-prepare needs -project DIR: the sample project it writes outlives it")
	}
	if err := prepare(ctx, project, dbURL); err != nil {
		return err
	}
	heading("Database: a bad retraining left this (roll it back with restore_vector_backup)")
	return printCounts(ctx, dbURL)
}

// prepare readies a demo: it checks that project has no backup root yet,
// fills the database with "bad retraining" rows (only in a database that is
// mcp-demo's own, or holds no LangChain tables), then writes the sample
// backups into project. Nothing is changed when either check fails.
func prepare(ctx context.Context, project, dbURL string) error {
	root := filepath.Join(project, "data_pipeline", "training_data")
	if _, err := os.Lstat(root); err == nil {
		return fmt.Errorf("%s already exists: mcp-demo writes its sample backups only into a new project folder, never over a project's own backups", root)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := badRetraining(ctx, dbURL); err != nil {
		return err
	}
	good := sample.Generate(1, []string{"sql", "ddl", "documentation", "error_sql"}, 12, dim)
	return layOut(project, good)
}

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
	if err := prepare(ctx, project, dbURL); err != nil {
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
		{"vector_bak", "20250722_010318", older}, // the old quick reference's example set
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
// It replaces existing tables only in a database marked as mcp-demo's own
// (demoMark); in any other database that holds them it refuses, changing
// nothing. The check and the change are one transaction.
func badRetraining(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)

	var comment string
	var tables []string
	err = tx.QueryRow(ctx, `
		SELECT coalesce(shobj_description(d.oid, 'pg_database'), ''),
		       array_remove(ARRAY[
		         CASE WHEN to_regclass('langchain_pg_collection') IS NOT NULL THEN 'langchain_pg_collection' END,
		         CASE WHEN to_regclass('langchain_pg_embedding') IS NOT NULL THEN 'langchain_pg_embedding' END], NULL)
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&comment, &tables)
	if err != nil {
		return fmt.Errorf("check database %s: %w", describe(conn), err)
	}
	ddl := sample.Default.DDL(dim)
	if strings.HasPrefix(comment, demoMark) {
		ddl = "DROP TABLE IF EXISTS langchain_pg_embedding, langchain_pg_collection;\n" + ddl
	} else if len(tables) > 0 {
		db := conn.Config().Database
		return fmt.Errorf("refusing to drop or change %s in database %s: mcp-demo did not create that database "+
			"(it has no comment starting %q) and these tables may be real data. "+
			"Point DATABASE_URL at a database made by scripts/demo.sh or scripts/sample-db.sh; "+
			"if these tables really are disposable, mark the database first: COMMENT ON DATABASE %s IS '%s'",
			strings.Join(tables, " and "), describe(conn), demoMark, pgx.Identifier{db}.Sanitize(), demoMark)
	}
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO langchain_pg_collection (uuid, name) VALUES ('00000000-0000-4000-8000-000000000001', 'sql');
		INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
		SELECT 'bad-' || i, '00000000-0000-4000-8000-000000000001', '[0,0,0,0,0,0,0,1]', 'SELECT * FROM wrong_table', '{"source": "bad retraining"}'
		FROM generate_series(1, 3) i;`)
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// describe names the connection's database for messages, with its user and
// server but never a password: "vectordemo" (user postgres on 127.0.0.1:5432).
func describe(conn *pgx.Conn) string {
	c := conn.Config()
	return fmt.Sprintf("%q (user %s on %s:%d)", c.Database, c.User, c.Host, c.Port)
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
