package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestResources reads, through a real client in both protocol eras, each
// set's manifest and log as resources: the templates are listed, the newest
// sets' documents are listed, they read back as the files, and a set
// without a manifest, or a location out of the backup root, is an error.
func TestResources(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	db := p.DB
	legacy := sample.Generate(5, []string{"sql"}, 3, 8)
	p.Write(t, legacy, "task_20250721_213627/vector_bak", "20250721_215758")
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := connect(t, p, serverConfig{db: db}, protocol)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, created := call(t, c, "create_vector_backup", map[string]any{})
			if res.IsError {
				t.Fatalf("backup: %s", text(res))
			}
			ts := created["timestamp"].(string)

			templates, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var uris []string
			for _, tpl := range templates.ResourceTemplates {
				uris = append(uris, tpl.URITemplate.Raw())
			}
			if strings.Join(uris, " ") != "vector-backup://{location}/{timestamp}/log vector-backup://{location}/{timestamp}/manifest" &&
				strings.Join(uris, " ") != "vector-backup://{location}/{timestamp}/manifest vector-backup://{location}/{timestamp}/log" {
				t.Errorf("templates %v", uris)
			}

			list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, r := range list.Resources {
				listed[r.URI] = true
			}
			manifest := "vector-backup://global_vector_bak/" + ts + "/manifest"
			for _, uri := range []string{manifest, "vector-backup://global_vector_bak/" + ts + "/log", "vector-backup://task_20250721_213627/20250721_215758/log"} {
				if !listed[uri] {
					t.Errorf("resources/list lacks %s: %v", uri, listed)
				}
			}
			if listed["vector-backup://task_20250721_213627/20250721_215758/manifest"] {
				t.Error("a set the old pipeline wrote is listed with a manifest")
			}

			read := func(uri string) (string, error) {
				req := mcp.ReadResourceRequest{}
				req.Params.URI = uri
				res, err := c.ReadResource(ctx, req)
				if err != nil {
					return "", err
				}
				if len(res.Contents) != 1 {
					t.Fatalf("%s: %d contents", uri, len(res.Contents))
				}
				return res.Contents[0].(mcp.TextResourceContents).Text, nil
			}
			body, err := read(manifest)
			if err != nil {
				t.Fatalf("read %s: %v", manifest, err)
			}
			var m struct {
				Kind, Timestamp string
				Files           map[string]struct{ Rows int64 }
			}
			if err := json.Unmarshal([]byte(body), &m); err != nil || m.Timestamp != ts || m.Kind != "backup" {
				t.Errorf("manifest %s: %+v %v", body, m, err)
			}
			logText, err := read("vector-backup://task_20250721_213627/20250721_215758/log")
			if err != nil || !strings.Contains(logText, "langchain_pg_embedding_20250721_215758.csv") {
				t.Errorf("log: %v\n%s", err, logText)
			}
			for _, bad := range []string{
				"vector-backup://task_20250721_213627/20250721_215758/manifest", // none written
				"vector-backup://task_20250721_213627/20990101_000000/log",      // no such set
				"vector-backup://..%2F..%2Fetc/20250721_215758/log",             // out of the root
			} {
				if _, err := read(bad); err == nil {
					t.Errorf("%s read without error", bad)
				}
			}
		})
	}
}

// TestRollbackPrompt gets the rollback prompt through a real client: listed
// with its arguments, and its steps name the tools, the user's goal and the
// collections in scope.
func TestRollbackPrompt(t *testing.T) {
	p := newProject(t)
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := connect(t, p, serverConfig{}, protocol)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			prompts, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(prompts.Prompts) != 1 || prompts.Prompts[0].Name != "rollback_vector_data" || len(prompts.Prompts[0].Arguments) != 2 {
				t.Fatalf("prompts %+v", prompts.Prompts)
			}
			req := mcp.GetPromptRequest{}
			req.Params.Name = "rollback_vector_data"
			req.Params.Arguments = map[string]string{"goal": "the data before yesterday's retraining", "collections": "sql, ddl"}
			res, err := c.GetPrompt(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			msg := res.Messages[0].Content.(mcp.TextContent).Text
			for _, want := range []string{"the data before yesterday's retraining", `collections=["sql", "ddl"]`, "list_vector_backups",
				"inspect_vector_backup", "diff: true", "only_in_database", "online: true", "restore_vector_backup", "confirm_token", "snapshot.undo"} {
				if !strings.Contains(msg, want) {
					t.Errorf("prompt lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}
