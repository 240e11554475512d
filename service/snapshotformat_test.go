package service_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/s3test"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// setColumn reads column col of table's file in set ts of dir (a folder
// key), as the server reads it (a snapshot's file is binary COPY), sorted.
func setColumn(t *testing.T, cat *catalog.Catalog, dir, ts, table, col string) []string {
	t.Helper()
	set, err := cat.FindSet(context.Background(), dir, ts)
	if err != nil {
		t.Fatal(err)
	}
	header, rows := pgtest.SetRows(t, set, table)
	i := slices.Index(header, col)
	if i < 0 {
		t.Fatalf("%s has no column %s: %v", table, col, header)
	}
	var out []string
	for _, row := range rows {
		out = append(out, row[i])
	}
	sort.Strings(out)
	return out
}

// listed finds set ts in a list result.
func listed(t *testing.T, res *schemas.ListResult, ts string) schemas.Backup {
	t.Helper()
	for _, loc := range res.BackupLocations {
		for _, b := range loc.Backups {
			if b.Timestamp == ts {
				return b
			}
		}
	}
	t.Fatalf("set %s not listed", ts)
	return schemas.Backup{}
}

// TestBinarySnapshotListInspectDiff takes a restore's snapshot (binary COPY)
// and a created backup (CSV) of the same rows: list shows the snapshot as
// a snapshot with its .pgcopy files, its manifest names the format and
// types, and inspect with diff reads both sets alike.
func TestBinarySnapshotListInspectDiff(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 2, 2*time.Minute)
	created, err := e.svc.Create(ctx, schemas.CreateArgs{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.restore(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot == nil {
		t.Fatal("no snapshot")
	}
	snapTS, csvTS := res.Snapshot.Timestamp, created.Timestamp

	list, err := e.svc.List(ctx, schemas.ListArgs{GlobalOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, csv := listed(t, list, snapTS), listed(t, list, csvTS)
	if snap.Kind != layout.KindSnapshot || csv.Kind != layout.KindBackup {
		t.Errorf("kinds %s and %s, want snapshot and backup", snap.Kind, csv.Kind)
	}
	if want := layout.DataFileName(layout.EmbeddingTable, snapTS, layout.FormatPGCopy); snap.EmbeddingFile != want || !strings.HasSuffix(snap.CollectionFile, ".pgcopy") {
		t.Errorf("snapshot files %s, %s; want %s and its collection twin", snap.CollectionFile, snap.EmbeddingFile, want)
	}
	if csv.EmbeddingFile != layout.FileName(layout.EmbeddingTable, csvTS) {
		t.Errorf("created set's embedding file %s, want CSV", csv.EmbeddingFile)
	}

	for ts, want := range map[string]struct {
		version int
		format  string
	}{snapTS: {layout.FormatVersionBinary, layout.FormatPGCopy}, csvTS: {layout.FormatVersion, ""}} {
		set, err := e.svc.Catalog.FindSet(ctx, layout.GlobalDir, ts)
		if err != nil {
			t.Fatal(err)
		}
		m, err := set.Manifest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.FormatVersion != want.version {
			t.Errorf("set %s: format_version %d, want %d", ts, m.FormatVersion, want.version)
		}
		for _, table := range layout.Tables() {
			f := m.Files[table]
			if f.Format != want.format || f.File != set.File(table) {
				t.Errorf("set %s %s: format %q file %s, want %q and %s", ts, table, f.Format, f.File, want.format, set.File(table))
			}
			if want.format != "" && len(f.Types) != len(f.Columns) {
				t.Errorf("set %s %s: types %v for columns %v", ts, table, f.Types, f.Columns)
			}
		}
		if want.format != "" {
			types := m.Files[layout.EmbeddingTable].Types
			if !slices.Contains(types, "vector(8)") || !slices.Contains(types, "uuid") || !slices.Contains(types, "jsonb") {
				t.Errorf("embedding types %v, want format_type()'s names", types)
			}
		}
	}

	inspect := func(ts string) *schemas.InspectResult {
		t.Helper()
		ins, err := e.svc.Inspect(ctx, schemas.InspectArgs{BackupPath: res.Snapshot.Undo.BackupPath, Timestamp: ts, TruncateBeforeRestore: true, Diff: true})
		if err != nil {
			t.Fatal(err)
		}
		if !ins.Restorable || ins.ChecksumStatus != "verified" || len(ins.Problems) > 0 {
			t.Errorf("inspect %s: restorable %v, checksums %s, problems %q", ts, ins.Restorable, ins.ChecksumStatus, ins.Problems)
		}
		return ins
	}
	a, b := inspect(snapTS), inspect(csvTS)
	// The examples of live-only keys come from a map, in no order.
	for _, d := range []*schemas.Diff{a.Diff, b.Diff} {
		if d == nil {
			t.Fatal("no diff")
		}
		d.Totals.Examples.OnlyInDatabase = nil
		for i := range d.Collections {
			d.Collections[i].Examples.OnlyInDatabase = nil
		}
	}
	if !reflect.DeepEqual(a.Diff, b.Diff) {
		t.Errorf("diff against the snapshot %+v, against the CSV %+v", a.Diff, b.Diff)
	}
	if a.Diff.Totals.OnlyInBackup == 0 || a.Diff.Totals.OnlyInDatabase == 0 {
		t.Errorf("the diff shows no change: %+v", a.Diff)
	}
	if !reflect.DeepEqual(a.Collections, b.Collections) {
		t.Errorf("collections %+v against %+v", a.Collections, b.Collections)
	}
	for _, table := range layout.Tables() {
		fa, fb := a.Files[table], b.Files[table]
		if fa.Rows != fb.Rows || !slices.Equal(fa.Header, fb.Header) || !reflect.DeepEqual(fa.VectorDimensions, fb.VectorDimensions) || fa.BadRows != 0 {
			t.Errorf("%s: snapshot %+v, CSV %+v", table, fa, fb)
		}
	}
	for _, table := range layout.Tables() {
		col := "uuid"
		if table == layout.EmbeddingTable {
			col = "id"
		}
		if got, want := setColumn(t, e.svc.Catalog, layout.GlobalDir, snapTS, table, col), setColumn(t, e.svc.Catalog, layout.GlobalDir, csvTS, table, col); !slices.Equal(got, want) {
			t.Errorf("%s: the snapshot holds %v, the CSV %v", table, got, want)
		}
	}
}

// TestBinarySnapshotRetention: retention removes binary snapshots, leaving
// no file behind, and never a set it cannot prove it wrote: not a created
// backup, not binary files without a manifest, not a snapshot whose binary
// file was changed.
func TestBinarySnapshotRetention(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 5, 2*time.Minute)
	e.svc.KeepSnapshots = 1
	global := e.svc.Catalog.Name(e.svc.Catalog.GlobalDir())
	created, err := e.svc.Create(ctx, schemas.CreateArgs{})
	if err != nil {
		t.Fatal(err)
	}
	// Binary files with no manifest: incomplete, never anyone's snapshot.
	const stray = "20200101_000000"
	for _, table := range layout.Tables() {
		if err := os.WriteFile(filepath.Join(global, layout.DataFileName(table, stray, layout.FormatPGCopy)), []byte("PGCOPY\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.restore(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A sealed snapshot whose binary file is then changed: left in place.
	tampered := first.Snapshot.Timestamp
	f, err := os.OpenFile(filepath.Join(global, layout.DataFileName(layout.EmbeddingTable, tampered, layout.FormatPGCopy)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 40); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var made []string
	for _, i := range []int{2, 3, 4} {
		res, err := e.restore(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.Snapshot.Timestamp)
	}
	snaps, others := snapshotSets(t, e.svc.Catalog, global)
	if want := []string{made[2], tampered}; !slices.Equal(snaps, want) {
		t.Errorf("snapshots left %v, want the newest and the tampered one %v", snaps, want)
	}
	if !slices.Contains(others, created.Timestamp) {
		t.Errorf("the created backup is gone: %v", others)
	}
	for _, ts := range made[:2] {
		if matches, _ := filepath.Glob(filepath.Join(global, "*"+ts+"*")); len(matches) > 0 {
			t.Errorf("removed snapshot %s left files: %v", ts, matches)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(global, "*"+stray+"*")); len(matches) != 2 {
		t.Errorf("the stray binary files: %v, want both kept", matches)
	}
	list, err := e.svc.List(ctx, schemas.ListArgs{GlobalOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, inc := range list.Incomplete {
		if inc.Timestamp == stray {
			found = true
		}
	}
	if !found {
		t.Errorf("binary files without a manifest are not listed as incomplete: %+v", list.Incomplete)
	}
}

// TestBinarySnapshotBucket: in a bucket root a restore's snapshot is binary
// COPY too, and its undo puts the tables back exactly.
func TestBinarySnapshotBucket(t *testing.T) {
	t.Parallel()
	e := newBucketEnv(t, s3test.NewPrefix(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.restore(ctx, e.svc, legacyRel, 0); err != nil {
		t.Fatal(err)
	}
	before := pgtest.Dump(t, e.db)
	res, err := e.restore(ctx, e.svc, legacyRel, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot == nil {
		t.Fatal("no snapshot")
	}
	keys := pgtest.Keys(t, e.st, layout.GlobalDir)
	for _, table := range layout.Tables() {
		if want := store.Join(layout.GlobalDir, layout.DataFileName(table, res.Snapshot.Timestamp, layout.FormatPGCopy)); !slices.Contains(keys, want) {
			t.Errorf("no %s in the bucket: %v", want, keys)
		}
	}
	if _, err := e.svc.Restore(ctx, res.Snapshot.Undo, service.RestoreOptions{}); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if pgtest.Dump(t, e.db) != before {
		t.Error("after the undo the tables differ from before")
	}
}
