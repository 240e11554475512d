package pgtest

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// LegacySet writes d as a set of the old pipeline's, stamped ts, into dir
// under the backup root root, and returns it as the catalog finds it: the
// fixture most database tests start from.
func LegacySet(t testing.TB, root, dir, ts string, d *sample.Dataset, l sample.Layout) catalog.Set {
	t.Helper()
	if err := d.WriteLegacy(dir, ts, l); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(cat.BackupRoot, dir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.FindSet(context.Background(), filepath.ToSlash(rel), ts)
	if err != nil {
		t.Fatalf("find set %s in %s: %v", ts, dir, err)
	}
	return set
}

// Seed fills the tables of the database at dbURL with set's rows, the way
// users do: a truncating restore.
func Seed(t testing.TB, dbURL string, set catalog.Set) {
	t.Helper()
	if _, err := restore.Run(context.Background(), Connect(t, dbURL), restore.Request{Set: set, Truncate: true}); err != nil {
		t.Fatalf("seed restore: %v", err)
	}
}

// Key is the catalog key of abs, a folder inside cat's backup root.
func Key(t testing.TB, cat *catalog.Catalog, abs string) string {
	t.Helper()
	rel, err := filepath.Rel(cat.BackupRoot, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		t.Fatalf("%s is not inside the backup root %s", abs, cat.BackupRoot)
	}
	if rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}

// SetRows reads table's file of set as the server reads it (CSV or binary
// COPY), every field in text form; NULL is "<NULL>".
func SetRows(t *testing.T, set catalog.Set, table string) (header []string, rows [][]string) {
	t.Helper()
	ctx := context.Background()
	files, err := set.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	r, err := backupfile.Open(ctx, files.File(table), backupfile.AllText)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r.Header(), rows
		}
		if err != nil {
			t.Fatalf("%s: %v", r.Name(), err)
		}
		row := make([]string, len(rec))
		for i, f := range rec {
			row[i] = string(f.Value)
			if f.IsNull() {
				row[i] = "<NULL>"
			}
		}
		rows = append(rows, row)
	}
}
