package tools_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestLongResultsStaySmall: what a model reads stays small however much
// there is. A list over 10,000 sets in 2,000 folders (and 300 half-written
// ones) names the newest sets and the counts; an inspect of a set with 5,000
// bad rows describes a few and counts the rest; errors about such a folder
// name one set, not all.
func TestLongResultsStaySmall(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	db := p.DB
	for f := range 2000 {
		dir := filepath.Join(p.Backups, fmt.Sprintf("task_%04d", f), "vector_bak")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for s := range 5 {
			ts := fmt.Sprintf("2025%02d%02d_%02d%02d00", 1+f%12, 1+f%28, s, f%60)
			for _, table := range []string{"collection", "embedding"} {
				if err := os.WriteFile(filepath.Join(dir, "langchain_pg_"+table+"_"+ts+".csv"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if f < 300 {
			if err := os.WriteFile(filepath.Join(dir, "langchain_pg_embedding_20260101_000000.csv.tmp"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A set with 5,000 rows whose vectors are not vectors.
	good := sample.Generate(7, []string{"sql"}, 5000, 8)
	p.Write(t, good, "bad_rows/vector_bak", "20270101_000000")
	embFile := filepath.Join(p.Backups, "bad_rows/vector_bak/langchain_pg_embedding_20270101_000000.csv")
	b, err := os.ReadFile(embFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(embFile, []byte(strings.ReplaceAll(string(b), "[", "[x")), 0o644); err != nil {
		t.Fatal(err)
	}

	c := connect(t, p, serverConfig{db: db}, protocols[0])
	res, list := call(t, c, "list_vector_backups", map[string]any{})
	body, _ := json.Marshal(list)
	summary := list["summary"].(map[string]any)
	t.Logf("list: text %d bytes, structured %d bytes", len(text(res)), len(body))
	if summary["total_backup_sets"] != 10001.0 || summary["incomplete_sets"] != 300.0 {
		t.Errorf("summary %v", summary)
	}
	if len(text(res)) > 2500 || strings.Count(text(res), "\n- backup_path=") != 10 {
		t.Errorf("list text is %d bytes with %d sets named:\n%s", len(text(res)), strings.Count(text(res), "\n- backup_path="), text(res))
	}
	for _, want := range []string{"10001 sets in 2001 locations", "timestamp=20270101_000000", "and 40 more on this page", "300 incomplete sets"} {
		if !strings.Contains(text(res), want) {
			t.Errorf("list text lacks %q:\n%s", want, text(res))
		}
	}
	if len(body) > 64<<10 || len(list["incomplete"].([]any)) != 100 {
		t.Errorf("list structured content: %d bytes, %d incomplete described", len(body), len(list["incomplete"].([]any)))
	}

	res, out := call(t, c, "inspect_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/bad_rows/vector_bak", "timestamp": "latest"})
	body, _ = json.Marshal(out)
	t.Logf("inspect: text %d bytes, structured %d bytes", len(text(res)), len(body))
	emb := out["files"].(map[string]any)["langchain_pg_embedding"].(map[string]any)
	if emb["bad_rows"] != 5000.0 || len(emb["bad_row_samples"].([]any)) != 5 {
		t.Errorf("bad rows %v, samples %d", emb["bad_rows"], len(emb["bad_row_samples"].([]any)))
	}
	if len(text(res)) > 2000 || len(body) > 16<<10 || !strings.Contains(text(res), "5000 bad") {
		t.Errorf("inspect answer: text %d bytes, structured %d bytes:\n%s", len(text(res)), len(body), text(res))
	}

	res, out = call(t, c, "restore_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/task_0001/vector_bak", "timestamp": "20240101_000000"})
	if !res.IsError || len(text(res)) > 600 {
		t.Errorf("error for a missing set: %d bytes: %s", len(text(res)), text(res))
	}
	res, _ = call(t, c, "restore_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/bad_rows/vector_bak", "timestamp": "latest", "truncate_before_restore": true})
	if !res.IsError || len(text(res)) > 800 || !strings.Contains(text(res), "line 2") {
		t.Errorf("error for a set with 5,000 bad rows: %d bytes: %s", len(text(res)), text(res))
	}
}
