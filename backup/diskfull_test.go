package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// The tests in this file write backups (create_vector_backup and a
// restore's snapshot) into a folder that fills up or cannot be written, and
// check that the call fails with a clear error, leaves no set the catalog
// would call complete and no .tmp files, and changes no table.
//
// A full disk is a small tmpfs, mounted for the test. That needs root (or
// CAP_SYS_ADMIN): without it only those subtests are skipped, except under
// CI=true, where they must run.

// tmpfsSize is small enough for the seeded tables (about 350 KB of CSV) not
// to fit.
const tmpfsSize = 256 << 10

// dfData is the seeded tables: 240 embeddings of 128 dimensions.
func dfData() *sample.Dataset {
	return sample.Generate(29, []string{"sql", "ddl", "documentation", "error_sql"}, 60, 128)
}

// dfSeeded returns a database holding data, loaded from a legacy set, and the
// legacy set (in a folder of its own) for restores.
func dfSeeded(t *testing.T, data *sample.Dataset) (db string, set catalog.Set) {
	t.Helper()
	db = pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(data.Dim))
	root := t.TempDir()
	dir := filepath.Join(root, "vector_bak")
	const legacyTS = "20250721_215758"
	if err := data.WriteLegacy(dir, legacyTS, sample.Default); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	if set, err = cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), legacyTS); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(context.Background(), pgtest.Connect(t, db), restore.Request{Set: set, Truncate: true}); err != nil {
		t.Fatalf("seed restore: %v", err)
	}
	return db, set
}

// mountTmpfs mounts a tmpfs of size bytes on dir (created if missing) until
// the test ends.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		msg := fmt.Sprintf("cannot mount a %d-byte tmpfs on %s to simulate a full disk: %v (needs root or CAP_SYS_ADMIN)", size, dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// fill writes a file into dir's file system until only keep bytes are free.
func fill(t *testing.T, dir string, keep int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if free <= keep {
		return
	}
	err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, free-keep), 0o644)
	if err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
}

// dfWrite runs backup.Write in a REPEATABLE READ transaction, as Create
// does.
func dfWrite(t *testing.T, db string, req backup.Request) (*backup.Written, error) {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Connect(t, db)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	w, err := backup.Write(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	return w, tx.Commit(ctx)
}

// wantWriteError checks err is an apierr error whose message says the
// backup could not be written and why.
func wantWriteError(t *testing.T, err error, why ...string) *apierr.Error {
	t.Helper()
	if err == nil {
		t.Fatal("succeeded, want an error")
	}
	e, ok := apierr.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an apierr error: callers get no error type and no advice", err, err)
	}
	t.Logf("%s: %s", e.Type, e.Message)
	if e.Type != apierr.StorageError {
		t.Errorf("error type %s, want %s: the disk failed, not the database", e.Type, apierr.StorageError)
	}
	msg := strings.ToLower(e.Message)
	if !strings.Contains(msg, "write") {
		t.Errorf("message %q does not say the backup could not be written", e.Message)
	}
	found := len(why) == 0
	for _, w := range why {
		found = found || strings.Contains(msg, w)
	}
	if !found {
		t.Errorf("message %q does not say why (one of %q)", e.Message, why)
	}
	return e
}

// wantNoSet checks that dir holds no complete set and no .tmp file.
func wantNoSet(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("failed write left %s", e.Name())
		}
	}
	cat, err := catalog.New(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	// FindSet reads the folder as the catalog does for every location.
	if set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), "latest"); err == nil {
		t.Errorf("failed write left complete set %s in %s", set.Timestamp, dir)
	}
}

// TestDiskFullCreate fills the backup folder's disk during a backup.
func TestDiskFullCreate(t *testing.T) {
	t.Parallel()
	data := dfData()
	db, _ := dfSeeded(t, data)
	before := pgtest.Dump(t, db)
	defer func() {
		if pgtest.Dump(t, db) != before {
			t.Error("a failed backup changed the tables")
		}
	}()

	t.Run("backup.Write: disk fills during COPY", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "global_vector_bak")
		mountTmpfs(t, dir, tmpfsSize)
		_, err := dfWrite(t, db, backup.Request{Dir: dir})
		wantWriteError(t, err, "space", "disk")
		wantNoSet(t, dir)
	})

	t.Run("backup.Write: disk full from the start", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "global_vector_bak")
		mountTmpfs(t, dir, tmpfsSize)
		fill(t, dir, 0)
		_, err := dfWrite(t, db, backup.Request{Dir: dir})
		wantWriteError(t, err, "space", "disk")
		wantNoSet(t, dir)
	})

	t.Run("backup.Write: the set fits, the log does not", func(t *testing.T) {
		// Learn the set's size, then leave exactly the pages its files and
		// manifest take.
		probe := t.TempDir()
		w, err := dfWrite(t, db, backup.Request{Dir: probe})
		if err != nil {
			t.Fatal(err)
		}
		var pages int64
		for _, f := range w.Manifest.Files {
			pages += (f.Bytes + 4095) / 4096
		}
		st, err := os.Stat(filepath.Join(probe, layout.ManifestName(layout.KindBackup, w.Timestamp)))
		if err != nil {
			t.Fatal(err)
		}
		pages += (st.Size() + 4095) / 4096

		dir := filepath.Join(t.TempDir(), "global_vector_bak")
		mountTmpfs(t, dir, 4<<20)
		fill(t, dir, pages*4096)
		w, err = dfWrite(t, db, backup.Request{Dir: dir})
		if err != nil {
			// Refusing the whole set is fine too, if it leaves nothing.
			wantWriteError(t, err, "space", "disk")
			wantNoSet(t, dir)
			return
		}
		// The set is complete and valid; only the log, which repeats its
		// row counts, is missing, and the caller is told.
		if w.LogError == nil {
			t.Fatal("the log was written although the disk was full to the last page of the set")
		}
		if !strings.Contains(w.LogError.Error(), "space") {
			t.Errorf("LogError %q does not say the disk is full", w.LogError)
		}
		names := []string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			names = append(names, e.Name())
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("left %s", e.Name())
			}
		}
		cat, err := catalog.New(dir, dir)
		if err != nil {
			t.Fatal(err)
		}
		set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), w.Timestamp)
		if err != nil {
			t.Fatalf("the set is not complete (%v): %v", err, names)
		}
		m, err := layout.ReadManifest(filepath.Join(dir, set.ManifestFile))
		if err != nil || m.Files[layout.EmbeddingTable].Rows != int64(len(data.Embeddings)) {
			t.Errorf("manifest %+v, %v", m, err)
		}
	})

	t.Run("Service.Create: disk fills during COPY", func(t *testing.T) {
		root := t.TempDir()
		mountTmpfs(t, filepath.Join(root, "global_vector_bak"), tmpfsSize)
		cat, err := catalog.New(root, root)
		if err != nil {
			t.Fatal(err)
		}
		svc := &service.Service{Catalog: cat, Policy: dbaccess.NewPolicy(db, nil)}
		_, err = svc.Create(context.Background(), schemas.CreateArgs{})
		wantWriteError(t, err, "space", "disk")
		wantNoSet(t, cat.GlobalDir())
		scan, err := cat.Scan(context.Background(), catalog.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range scan.Locations {
			if len(loc.Sets)+len(loc.Incomplete) > 0 {
				t.Errorf("%s lists %d sets and %d incomplete ones after a failed backup", loc.RelativePath, len(loc.Sets), len(loc.Incomplete))
			}
		}
	})
}

// TestUnwritableBackupFolder points the backup folder at a path under a
// regular file: root ignores permissions, not that.
func TestUnwritableBackupFolder(t *testing.T) {
	t.Parallel()
	data := dfData()
	db, set := dfSeeded(t, data)
	before := pgtest.Dump(t, db)
	root := t.TempDir()
	afile := filepath.Join(root, "afile")
	if err := os.WriteFile(afile, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("Service.Create", func(t *testing.T) {
		cat, err := catalog.New(root, "afile/sub")
		if err != nil {
			t.Fatal(err)
		}
		svc := &service.Service{Catalog: cat, Policy: dbaccess.NewPolicy(db, nil)}
		_, err = svc.Create(context.Background(), schemas.CreateArgs{})
		wantWriteError(t, err, "not a directory", "permission")
		wantNoSet(t, cat.GlobalDir())
	})

	t.Run("restore snapshot", func(t *testing.T) {
		dir := filepath.Join(afile, "sub", "global_vector_bak")
		_, err := restore.Run(context.Background(), pgtest.Connect(t, db), restore.Request{
			Set: set, Truncate: true,
			SnapshotDir: dir,
		})
		wantWriteError(t, err, "not a directory", "permission")
		wantNoSet(t, dir)
	})
	if pgtest.Dump(t, db) != before {
		t.Error("a failed backup or restore changed the tables")
	}
}

// TestDiskFullSnapshot fills the disk of a restore's snapshot folder: the
// restore must fail before deleting anything and leave no snapshot.
func TestDiskFullSnapshot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		keep int64 // bytes left free; -1 for an empty tmpfs
	}{
		// The snapshot is binary COPY, about 150 KB here: 64 KiB free
		// makes the disk fill during it.
		{"disk fills during the snapshot's COPY", 64 << 10},
		{"disk full from the start", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := dfData()
			db, set := dfSeeded(t, data)
			// Something to restore over: the live tables differ from the set.
			pgtest.Exec(t, db, "DELETE FROM langchain_pg_embedding WHERE id IN (SELECT id FROM langchain_pg_embedding ORDER BY id LIMIT 10)")
			before := pgtest.Dump(t, db)

			dir := filepath.Join(t.TempDir(), "global_vector_bak")
			mountTmpfs(t, dir, tmpfsSize)
			if tt.keep >= 0 {
				fill(t, dir, tt.keep)
			}
			_, err := restore.Run(context.Background(), pgtest.Connect(t, db), restore.Request{
				Set: set, Truncate: true,
				SnapshotDir: dir,
			})
			e := wantWriteError(t, err, "space", "disk")
			if strings.Contains(e.Message, "lost the database connection") {
				t.Errorf("a full snapshot disk is reported as a lost database connection: %q", e.Message)
			}
			wantNoSet(t, dir)
			if pgtest.Dump(t, db) != before {
				t.Error("the failed restore changed the tables")
			}
		})
	}
}

// TestDiskFullPrune restores twice with --keep-snapshots 1 into a snapshot
// folder whose disk the second snapshot fills to the last page: the restore
// still succeeds, removing the first snapshot (removal needs no space) frees
// the disk, and the second snapshot is complete.
func TestDiskFullPrune(t *testing.T) {
	t.Parallel()
	data := dfData()
	db, _ := dfSeeded(t, data)
	root := t.TempDir()
	if err := data.WriteLegacy(filepath.Join(root, "vector_bak"), "20250721_215758", sample.Default); err != nil {
		t.Fatal(err)
	}
	global := filepath.Join(root, "global_vector_bak")
	mountTmpfs(t, global, 4<<20)
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Catalog: cat, Policy: dbaccess.NewPolicy(db, nil), KeepSnapshots: 1}
	args := schemas.RestoreArgs{BackupPath: filepath.Join(root, "vector_bak"), Timestamp: "20250721_215758", TruncateBeforeRestore: true}
	ctx := context.Background()

	first, err := svc.Restore(ctx, args, service.RestoreOptions{})
	if err != nil || first.Snapshot == nil {
		t.Fatalf("first restore: %v %+v", err, first)
	}
	// Leave free exactly the pages the next snapshot (the same rows) takes.
	var pages int64
	for _, name := range []string{"langchain_pg_collection_", "langchain_pg_embedding_", "vector_snapshot_manifest_"} {
		matches, _ := filepath.Glob(filepath.Join(global, name+first.Snapshot.Timestamp+"*"))
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				t.Fatal(err)
			}
			pages += (fi.Size() + 4095) / 4096
		}
	}
	fill(t, global, pages*4096)

	second, err := svc.Restore(ctx, args, service.RestoreOptions{})
	if err != nil {
		t.Fatalf("the restore whose snapshot fills the disk failed: %v", err)
	}
	if !slices.Equal(second.Snapshot.Pruned, []string{first.Snapshot.Timestamp}) {
		t.Errorf("pruned %v, want the first snapshot %s", second.Snapshot.Pruned, first.Snapshot.Timestamp)
	}
	for _, e := range second.Errors {
		t.Logf("noted: %s", e) // the folder's log may not have fit
		if strings.Contains(e, "snapshot sets could not be removed") {
			t.Errorf("removal on a full disk failed: %s", e)
		}
	}
	if _, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, global), first.Snapshot.Timestamp); err == nil {
		t.Error("the first snapshot is still there")
	}
	set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, global), second.Snapshot.Timestamp)
	if err != nil {
		t.Fatalf("the second snapshot is not complete: %v", err)
	}
	m, err := layout.ReadManifest(filepath.Join(global, set.ManifestFile))
	if err != nil || m.Files[layout.EmbeddingTable].Rows != int64(len(data.Embeddings)) {
		t.Errorf("second snapshot's manifest %+v, %v", m, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(global, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < pages*4096/2 {
		t.Errorf("only %d bytes free after the removal", free)
	}
}
