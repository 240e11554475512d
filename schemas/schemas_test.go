package schemas_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

var update = flag.Bool("update", false, "rewrite the published schema files")

// TestPublishedSchemas keeps the schema files under schemas/json in step with
// the Go types they are generated from. Run `go test ./schemas -update` after
// changing a type, and review the diff: it is a change to the contract.
func TestPublishedSchemas(t *testing.T) {
	files := map[string][]byte{"error.json": schemas.Error()}
	for _, tool := range schemas.Tools() {
		files[tool.Name+".input.json"] = schemas.Input(tool.Args)
		files[tool.Name+".output.json"] = schemas.Output(tool.Result)
	}
	for _, body := range schemas.HTTPBodies() {
		files[body.Name+".input.json"] = schemas.Input(body.Args)
	}
	for name, want := range files {
		path := filepath.Join("json", name)
		want = append(want, '\n')
		if *update {
			if err := os.MkdirAll("json", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; run go test ./schemas -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the Go types changed; run go test ./schemas -update and review the diff", path)
		}
	}
	entries, _ := os.ReadDir("json")
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("json/%s belongs to no tool; delete it", e.Name())
		}
	}
}
