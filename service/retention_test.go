package service_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// snapshotSets lists the timestamps of the snapshot sets, and of the other
// sets, in a folder.
func snapshotSets(t *testing.T, cat *catalog.Catalog, dir string) (snapshots, others []string) {
	t.Helper()
	sets, err := cat.Sets(context.Background(), pgtest.Key(t, cat, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if s.Kind == layout.KindSnapshot {
			snapshots = append(snapshots, s.Timestamp)
		} else {
			others = append(others, s.Timestamp)
		}
	}
	return snapshots, others
}

// TestSnapshotRetention restores five times with --keep-snapshots 3: after
// each restore the snapshot folder holds at most three snapshot sets, the
// newest, each complete; what was removed is reported; a backup in the same
// folder, a snapshot a person copied into a task folder, and a set merely
// named like a snapshot are never touched.
func TestSnapshotRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 6)
	e.svc.KeepSnapshots = 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.restore(ctx, 0); err != nil {
		t.Fatal(err)
	}
	global := e.svc.Catalog.Name(e.svc.Catalog.GlobalDir())
	backupSet, err := e.svc.Create(ctx, schemas.CreateArgs{})
	if err != nil {
		t.Fatal(err)
	}
	// A set named like a snapshot whose manifest says otherwise (a person
	// renamed a backup's manifest).
	const decoy = "20200101_000000"
	for _, table := range layout.Tables() {
		if err := os.WriteFile(filepath.Join(global, table+"_"+decoy+".csv"), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(global, "vector_snapshot_manifest_"+decoy+".json"),
		[]byte(`{"format_version":1,"kind":"backup","timestamp":"`+decoy+`","tables":[],"files":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	var made, copied []string
	for i := 1; i <= 5; i++ {
		res, err := e.restore(ctx, i)
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if res.Snapshot == nil {
			t.Fatalf("restore %d wrote no snapshot", i)
		}
		made = append(made, res.Snapshot.Timestamp)
		if len(res.Errors) > 0 {
			t.Errorf("restore %d: errors %q", i, res.Errors)
		}
		// Four older real snapshots or fewer: keep this one and the two
		// before it; the decoy is older than all but is no snapshot.
		var wantPruned []string
		if n := len(made); n > 3 {
			wantPruned = []string{made[n-4]}
		}
		if !slices.Equal(res.Snapshot.Pruned, wantPruned) {
			t.Errorf("restore %d pruned %v, want %v", i, res.Snapshot.Pruned, wantPruned)
		}
		snaps, others := snapshotSets(t, e.svc.Catalog, global)
		want := slices.Clone(made[max(0, len(made)-3):])
		want = append(want, decoy)
		slices.Reverse(want[:len(want)-1])
		if !slices.Equal(snaps, want) {
			t.Errorf("after restore %d: snapshots %v, want %v", i, snaps, want)
		}
		if !slices.Contains(others, backupSet.Timestamp) {
			t.Errorf("after restore %d the backup %s is gone: %v", i, backupSet.Timestamp, others)
		}
		if i == 1 {
			// A person copies the first snapshot into a task folder.
			taskDir := filepath.Join(e.backups, "task_kept", "vector_bak")
			copySet(t, global, taskDir, res.Snapshot.Timestamp)
			copied = append(copied, res.Snapshot.Timestamp)
		}
	}
	for _, ts := range made[:2] {
		if _, err := e.svc.Catalog.FindSet(context.Background(), pgtest.Key(t, e.svc.Catalog, global), ts); err == nil {
			t.Errorf("snapshot %s was not removed", ts)
		}
		matches, _ := filepath.Glob(filepath.Join(global, "*"+ts+"*"))
		if len(matches) > 0 {
			t.Errorf("snapshot %s left files: %v", ts, matches)
		}
	}
	for _, ts := range made[2:] {
		if _, err := e.svc.Catalog.FindSet(context.Background(), pgtest.Key(t, e.svc.Catalog, global), ts); err != nil {
			t.Errorf("kept snapshot %s: %v", ts, err)
		}
	}
	taskSnaps, _ := snapshotSets(t, e.svc.Catalog, filepath.Join(e.backups, "task_kept", "vector_bak"))
	if !slices.Equal(taskSnaps, copied) {
		t.Errorf("the copied snapshot: %v, want %v", taskSnaps, copied)
	}
}

// copySet copies the files of set ts from one folder to another.
func copySet(t *testing.T, from, to, ts string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.Contains(e.Name(), ts) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSnapshotRetentionConcurrent runs eight restores of one database at
// once with --keep-snapshots 2: all succeed with no removal error (two
// removing the same set is no failure), and the two snapshots left are the
// last two committers'.
func TestSnapshotRetentionConcurrent(t *testing.T) {
	t.Parallel()
	const n = 8
	e := newEnv(t, n+1)
	e.svc.KeepSnapshots = 2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.restore(ctx, 0); err != nil {
		t.Fatal(err)
	}
	results := make([]*schemas.RestoreResult, n+1)
	errs := make([]error, n+1)
	together(n, func(i int) { results[i+1], errs[i+1] = e.restore(ctx, i+1) })
	var made []string
	for i := 1; i <= n; i++ {
		if errs[i] != nil {
			t.Fatalf("restore %d: %v", i, errs[i])
		}
		if len(results[i].Errors) > 0 {
			t.Errorf("restore %d: errors %q", i, results[i].Errors)
		}
		made = append(made, results[i].Snapshot.Timestamp)
	}
	slices.Sort(made)
	snaps, _ := snapshotSets(t, e.svc.Catalog, e.svc.Catalog.Name(e.svc.Catalog.GlobalDir()))
	slices.Sort(snaps)
	if want := made[n-2:]; !slices.Equal(snaps, want) {
		t.Errorf("snapshots left %v, want the last two committers' %v (of %v)", snaps, want, made)
	}
}
