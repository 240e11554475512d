package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestNoWritesThroughLinks: when global_vector_bak (or a task's
// vector_bak) becomes a link out of the backup root while the server runs,
// backups and restores' snapshots are refused rather than written there,
// the restore changes nothing, and nothing appears outside the root.
func TestNoWritesThroughLinks(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 2, 2*time.Minute)
	outside := t.TempDir()
	global := e.svc.Catalog.Name(e.svc.Catalog.GlobalDir())
	os.RemoveAll(global)
	if err := os.Symlink(outside, global); err != nil {
		t.Fatal(err)
	}
	task := filepath.Join(e.backups, "task_out")
	if err := os.MkdirAll(task, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(task, "vector_bak")); err != nil {
		t.Fatal(err)
	}

	if _, err := e.svc.Create(ctx, schemas.CreateArgs{}); err == nil {
		t.Error("a global backup through a link out of the root succeeded")
	}
	if _, err := e.svc.Create(ctx, schemas.CreateArgs{TaskID: "task_out"}); err == nil {
		t.Error("a task backup through a link out of the root succeeded")
	}
	before := pgtest.Dump(t, e.db)
	if _, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(1), TruncateBeforeRestore: true}, service.RestoreOptions{}); err == nil {
		t.Error("a restore whose snapshot would go through a link out of the root succeeded")
	}
	if pgtest.Dump(t, e.db) != before {
		t.Error("the refused restore changed the tables")
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("written outside the backup root: %v", names)
	}
}
