package tools_test

import (
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestInspectSummary checks what a model reads of inspect_vector_backup:
// counts with their nouns agreeing ("1 row"), the plan in one sentence, and,
// when the database cannot be reached, why (without the password), with the
// set still read.
func TestInspectSummary(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	db := p.DB
	one := sample.Generate(3, []string{"sql"}, 1, 8) // one collection, one embedding
	p.Write(t, one, "vector_bak", "20250720_080000")
	args := map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "latest", "truncate_before_restore": true}

	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := connect(t, p, serverConfig{db: db}, protocol)
			res, out := call(t, c, "inspect_vector_backup", args)
			if res.IsError || out["restorable"] != true {
				t.Fatalf("inspect: %s", text(res))
			}
			summary := text(res)
			for _, want := range []string{
				"is restorable",
				"langchain_pg_collection: 1 row (",
				"langchain_pg_embedding: 1 row (",
				"A truncate restore would delete 0 rows and write 1 row of langchain_pg_collection; delete 0 rows and write 1 row of langchain_pg_embedding.",
			} {
				if !strings.Contains(summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, summary)
				}
			}
			if strings.Contains(summary, ";.") || strings.Contains(summary, "; \n") || strings.HasSuffix(strings.TrimSpace(summary), ";") {
				t.Errorf("summary has a stray semicolon:\n%s", summary)
			}

			const password = "inspect-pw-0815"
			down := connect(t, p, serverConfig{db: "postgres://nobody:" + password + "@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}, protocol)
			res, out = call(t, down, "inspect_vector_backup", args)
			if res.IsError || out["restorable"] != false {
				t.Fatalf("inspect without a database: %s", text(res))
			}
			problems, _ := out["problems"].([]any)
			if len(problems) != 1 || !strings.Contains(problems[0].(string), "cannot connect to 127.0.0.1:1/none") ||
				!strings.Contains(problems[0].(string), "not checked against the target database") {
				t.Errorf("problems %v, want the cause", problems)
			}
			if files, _ := out["files"].(map[string]any); len(files) != 2 {
				t.Errorf("the set was not read: files %v", out["files"])
			}
			if strings.Contains(text(res), password) || strings.Contains(problems[0].(string), password) {
				t.Error("the answer shows the password")
			}
		})
	}
}
