package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const ts = "20250721_215758"

var names = []string{"sql", "ddl", "documentation", "error_sql"}

// fixture is a fresh database with a layout's tables and a legacy backup set
// of data on disk.
type fixture struct {
	db     string
	set    catalog.Set
	data   *sample.Dataset
	layout sample.Layout
}

func newFixture(t *testing.T, l sample.Layout, data *sample.Dataset) *fixture {
	t.Helper()
	f := &fixture{db: pgtest.NewDatabase(t), data: data, layout: l}
	pgtest.Exec(t, f.db, l.DDL(data.Dim))
	root := t.TempDir()
	f.set = pgtest.LegacySet(t, root, filepath.Join(root, "vector_bak"), ts, data, l)
	return f
}

func (f *fixture) restore(t *testing.T, req restore.Request) (*restore.Result, error) {
	t.Helper()
	req.Set = f.set
	conn := pgtest.Connect(t, f.db)
	return restore.Run(context.Background(), conn, req)
}

// TestLayouts restores a legacy set into every table variant and compares
// every row with the source.
func TestLayouts(t *testing.T) {
	for _, l := range sample.Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			data := sample.Generate(1, names, 30, 16)
			f := newFixture(t, l, data)
			res, err := f.restore(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			pgtest.Compare(t, f.db, data, l)
			emb := res.RestoreResults[layout.EmbeddingTable]
			if emb.RowsRestored != int64(len(data.Embeddings)) {
				t.Errorf("rows_restored %d, want %d", emb.RowsRestored, len(data.Embeddings))
			}
			if emb.MetadataConverted == 0 || emb.MetadataConverted >= emb.RowsRestored {
				t.Errorf("metadata_converted %d: want the rows with non-NULL metadata", emb.MetadataConverted)
			}
			// Again over the restored rows: truncate makes it repeatable.
			res, err = f.restore(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("second restore: %v", err)
			}
			if got := res.TruncateResults[layout.EmbeddingTable].RowsBefore; got != int64(len(data.Embeddings)) {
				t.Errorf("rows_before %d, want %d", got, len(data.Embeddings))
			}
			pgtest.Compare(t, f.db, data, l)
		})
	}
}

// TestAppend restores into empty tables without truncating, then appends a
// second dataset's embeddings to the same collections' table.
func TestAppend(t *testing.T) {
	data := sample.Generate(2, names, 10, 8)
	f := newFixture(t, sample.Default, data)
	res, err := f.restore(t, restore.Request{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.TruncatePerformed || len(res.TruncateResults) != 0 {
		t.Errorf("append truncated: %+v", res.TruncateResults)
	}
	pgtest.Compare(t, f.db, data, sample.Default)
}

// TestFailuresChangeNothing checks each failure's error type and that the
// tables are byte for byte as before.
func TestFailuresChangeNothing(t *testing.T) {
	tests := []struct {
		name   string
		req    restore.Request
		spoil  func(t *testing.T, f *fixture) // change the files or the target
		want   apierr.Type
		inMsg  string
		marker string // text the spoil put on the line the error must name
	}{
		{
			name:   "corrupt row near the end of the embedding file",
			req:    restore.Request{Truncate: true},
			spoil:  func(t *testing.T, f *fixture) { replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), "[", "[oops,") },
			want:   apierr.BackupCorrupt,
			inMsg:  "line",
			marker: "[oops,",
		},
		{
			name: "metadata neither JSON nor Python",
			req:  restore.Request{Truncate: true},
			spoil: func(t *testing.T, f *fixture) {
				replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), "{'source'", "{'source' 'x'")
			},
			want:  apierr.BackupCorrupt,
			inMsg: "column cmetadata",
		},
		{
			// The seed restore loaded the same set: appending it again
			// collides on the first key.
			name:  "duplicate key in append mode",
			req:   restore.Request{},
			want:  apierr.Conflict,
			inMsg: "already exists",
		},
		{
			name: "header column the table lacks",
			req:  restore.Request{Truncate: true},
			spoil: func(t *testing.T, f *fixture) {
				pgtest.Exec(t, f.db, "ALTER TABLE langchain_pg_embedding DROP COLUMN document")
			},
			want:  apierr.SchemaMismatch,
			inMsg: `"document"`,
		},
		{
			name: "vector dimension differs from the table's",
			req:  restore.Request{Truncate: true},
			spoil: func(t *testing.T, f *fixture) {
				pgtest.Exec(t, f.db, "ALTER TABLE langchain_pg_embedding ALTER COLUMN embedding TYPE vector(9) USING NULL")
			},
			want:  apierr.SchemaMismatch,
			inMsg: "8 dimensions",
		},
		{
			name: "vector of another dimension in the middle of the file",
			req:  restore.Request{Truncate: true},
			spoil: func(t *testing.T, f *fixture) {
				replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), "[", "[0.5,")
			},
			want:  apierr.BackupCorrupt,
			inMsg: "9 dimensions",
		},
		{
			name:   "NaN in a vector",
			req:    restore.Request{Truncate: true},
			spoil:  func(t *testing.T, f *fixture) { replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), "[", "[NaN,") },
			want:   apierr.BackupCorrupt,
			inMsg:  "NaN",
			marker: "[NaN,",
		},
		{
			name:   "invalid uuid caught by PostgreSQL",
			req:    restore.Request{Truncate: true},
			spoil:  spoilUUID,
			want:   apierr.BackupCorrupt,
			inMsg:  "line",
			marker: "not-a-uuid",
		},
		{
			name:  "truncate the collection table alone",
			req:   restore.Request{Truncate: true, Tables: []string{layout.CollectionTable}},
			want:  apierr.Conflict,
			inMsg: "refusing to truncate",
		},
		{
			name: "embeddings alone reference missing collections",
			req:  restore.Request{Truncate: true, Tables: []string{layout.EmbeddingTable}},
			spoil: func(t *testing.T, f *fixture) {
				pgtest.Exec(t, f.db, "DELETE FROM langchain_pg_collection WHERE name = 'sql'")
			},
			want:  apierr.Conflict,
			inMsg: "collections the target lacks",
		},
		{
			name:  "unknown table",
			req:   restore.Request{Tables: []string{"langchain_pg_embedding; DROP TABLE x"}},
			want:  apierr.InvalidParams,
			inMsg: "unknown table",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := sample.Generate(3, names, 20, 8)
			f := newFixture(t, sample.Default, data)
			// Start from live data so "unchanged" means something.
			if _, err := f.restore(t, restore.Request{Truncate: true}); err != nil {
				t.Fatalf("seed restore: %v", err)
			}
			if tt.spoil != nil {
				tt.spoil(t, f)
			}
			before := pgtest.Dump(t, f.db)
			_, err := f.restore(t, tt.req)
			if err == nil {
				t.Fatal("restore succeeded, want an error")
			}
			e, ok := apierr.As(err)
			if !ok || e.Type != tt.want {
				t.Fatalf("error %v (%T), want type %s", err, err, tt.want)
			}
			if !strings.Contains(e.Message, tt.inMsg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.inMsg)
			}
			if tt.marker != "" {
				line, _ := e.Details["line"].(int)
				if got := physicalLine(t, f.set.Path(layout.EmbeddingTable), line); !strings.Contains(got, tt.marker) {
					t.Errorf("error names line %d, which does not hold %q: %q", line, tt.marker, got)
				}
			}
			if after := pgtest.Dump(t, f.db); after != before {
				t.Errorf("tables changed by a failed restore")
			}
		})
	}
}

// replaceInLastRows changes the third-to-last data row of a CSV file.
func replaceInLastRows(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(string(b), "\r\n")
	// rows ends with "" after the final CRLF; some rows span several lines,
	// so find a line that has old in it, counting from the end.
	for i := len(rows) - 4; i > 0; i-- {
		if strings.Contains(rows[i], old) {
			rows[i] = strings.Replace(rows[i], old, new, 1)
			if err := os.WriteFile(path, []byte(strings.Join(rows, "\r\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s: no row holds %q", path, old)
}

// spoilUUID makes one collection_id near the end unparsable as a uuid.
func spoilUUID(t *testing.T, f *fixture) {
	t.Helper()
	last := f.data.Embeddings[len(f.data.Embeddings)-2]
	replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), last.CollectionID, "not-a-uuid")
}

// physicalLine returns line n (1-based) of a file whose lines end in CRLF,
// LF or CR, as an editor shows them.
func physicalLine(t *testing.T, path string, n int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}
