package service_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestSwappedFiles swaps a set's embedding file at the exact moments a call
// passes (through the service's hooks, not by racing): before the files are
// opened, a link out of the backup root or a FIFO is refused, promptly and
// before any lock, and nothing changes; once they are open, whatever is
// swapped in is not seen: the call reads the file it found.
func TestSwappedFiles(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 2, 2*time.Minute)

	// Outside the root: another set's files, which must never be read.
	outside := t.TempDir()
	intruder := sample.Generate(999, collectionNames, 9, dim)
	if err := intruder.WriteLegacy(outside, setTS(1), sample.Default); err != nil {
		t.Fatal(err)
	}
	embFile := layout.FileName(layout.EmbeddingTable, setTS(1))
	inside := filepath.Join(e.backups, "vector_bak", embFile)
	original, err := os.ReadFile(inside)
	if err != nil {
		t.Fatal(err)
	}
	putBack := func() {
		os.Remove(inside)
		if err := os.WriteFile(inside, original, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	toLink := func(catalog.Set) {
		os.Remove(inside)
		if err := os.Symlink(filepath.Join(outside, embFile), inside); err != nil {
			t.Error(err)
		}
	}
	toFIFO := func(catalog.Set) {
		os.Remove(inside)
		if err := syscall.Mkfifo(inside, 0o644); err != nil {
			t.Error(err)
		}
	}
	restoreArgs := schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(1), TruncateBeforeRestore: true}
	inspectArgs := schemas.InspectArgs{BackupPath: legacyRel, Timestamp: setTS(1), TruncateBeforeRestore: true}

	refused := []struct {
		name string
		swap func(catalog.Set)
		want apierr.Type
	}{
		{"link out of the root", toLink, apierr.Forbidden},
		{"FIFO", toFIFO, apierr.BackupCorrupt},
	}
	for _, c := range refused {
		t.Run("before open: "+c.name, func(t *testing.T) {
			defer putBack()
			service.SetOpenHooks(e.svc, c.swap, nil)
			defer service.SetOpenHooks(e.svc, nil, nil)
			before := pgtest.Dump(t, e.db)
			callCtx, stop := context.WithTimeout(ctx, 10*time.Second)
			defer stop()
			_, err := e.svc.Restore(callCtx, restoreArgs, service.RestoreOptions{})
			if got := apierr.TypeOf(err); got != c.want || callCtx.Err() != nil {
				t.Fatalf("restore: %v (type %s), want %s at once", err, got, c.want)
			}
			if pgtest.Dump(t, e.db) != before {
				t.Error("the tables changed")
			}
			putBack()
			_, err = e.svc.Inspect(callCtx, inspectArgs)
			if got := apierr.TypeOf(err); got != c.want || callCtx.Err() != nil {
				t.Fatalf("inspect: %v (type %s), want %s at once", err, got, c.want)
			}
		})
	}

	// Swapped once open: the call reads the set it found, and only that.
	for _, c := range refused {
		t.Run("after open: "+c.name, func(t *testing.T) {
			defer putBack()
			service.SetOpenHooks(e.svc, nil, c.swap)
			defer service.SetOpenHooks(e.svc, nil, nil)
			res, err := e.svc.Inspect(ctx, inspectArgs)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Files[layout.EmbeddingTable].Rows, int64(len(e.sets[1].Embeddings)); got != want || !res.Restorable {
				t.Errorf("inspect read %d rows (restorable %v), want the set's %d", got, res.Restorable, want)
			}
			putBack()
			if _, err := e.svc.Restore(ctx, restoreArgs, service.RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			pgtest.Compare(t, e.db, e.sets[1], sample.Default)
			if _, err := e.restore(ctx, 0); err != nil { // back to the start
				t.Fatal(err)
			}
		})
	}
}
