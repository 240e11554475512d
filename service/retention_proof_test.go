package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestRetentionRemovesOnlyItsOwn: pruning removes only snapshots this
// server provably wrote (a sealed manifest whose sums match the files), and
// counts them per source database. A user's legacy set next to a forged
// snapshot manifest (kind snapshot, wrong sums; or right sums, no seal), and
// a sealed snapshot whose file was changed, survive any number of
// restores with --keep-snapshots 1; so do the snapshots of another
// database that shares the folder.
func TestRetentionRemovesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	e.svc.KeepSnapshots = 1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	other := e.otherDatabase(t)
	if _, err := e.restore(ctx, 0); err != nil {
		t.Fatal(err)
	}
	global := e.svc.Catalog.Name(e.svc.Catalog.GlobalDir())

	// Users' sets in the snapshot folder, each with a forged manifest.
	forge := func(ts string, rightSums bool) {
		if err := sample.Generate(50, collectionNames, 2, dim).WriteLegacy(global, ts, sample.Default); err != nil {
			t.Fatal(err)
		}
		m := layout.Manifest{FormatVersion: layout.FormatVersion, Kind: layout.KindSnapshot, Timestamp: ts,
			Tables: layout.Tables(), Files: map[string]layout.FileEntry{}}
		for _, table := range layout.Tables() {
			name := layout.FileName(table, ts)
			b, err := os.ReadFile(filepath.Join(global, name))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			entry := layout.FileEntry{File: name, Bytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
			if !rightSums {
				entry.SHA256 = strings.Repeat("0", 64)
			}
			m.Files[table] = entry
		}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(global, layout.ManifestName(layout.KindSnapshot, ts)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	forge("20200101_000000", false)
	forge("20200101_000001", true)

	// Snapshots of the other database, in the same folder.
	var theirs []string
	for i := range 2 {
		res, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(i), TruncateBeforeRestore: true, DBConnection: other}, service.RestoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Snapshot != nil {
			theirs = append(theirs, res.Snapshot.Timestamp)
		}
	}
	// A sealed snapshot of ours whose file is then changed.
	res, err := e.restore(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	tampered := res.Snapshot.Timestamp
	// Snapshots are binary COPY files.
	f, err := os.OpenFile(filepath.Join(global, layout.DataFileName(layout.EmbeddingTable, tampered, layout.FormatPGCopy)), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x\r\n")
	f.Close()

	var ours []string
	for _, i := range []int{2, 0, 1, 2} {
		res, err := e.restore(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, res.Snapshot.Timestamp)
	}
	snaps, _ := snapshotSets(t, e.svc.Catalog, global)
	for _, ts := range append([]string{"20200101_000000", "20200101_000001", tampered, ours[len(ours)-1]}, theirs...) {
		if !slices.Contains(snaps, ts) {
			t.Errorf("set %s was removed; left: %v", ts, snaps)
		}
	}
	for _, ts := range ours[:len(ours)-1] {
		if slices.Contains(snaps, ts) {
			t.Errorf("our older snapshot %s was kept with --keep-snapshots 1; left: %v", ts, snaps)
		}
	}
}
