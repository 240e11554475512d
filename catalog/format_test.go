package catalog

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// formatManifest is a set's manifest naming each table's file and format.
func formatManifest(t *testing.T, ts string, formats map[string]string) string {
	t.Helper()
	m := layout.Manifest{FormatVersion: layout.FormatVersionBinary, Kind: layout.KindSnapshot, Timestamp: ts, Files: map[string]layout.FileEntry{}}
	for table, format := range formats {
		e := layout.FileEntry{File: layout.DataFileName(table, ts, format), Columns: []string{"id"}}
		if format != layout.FormatCSV {
			e.Format, e.Types = format, []string{"text"}
		}
		m.Files[table] = e
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBinarySets: a set's files are found by the names they have (a
// snapshot's .pgcopy); binary files without their manifest, or two files
// of one table, are an incomplete set; a file whose name and manifest
// disagree on its format is never opened for reading.
func TestBinarySets(t *testing.T) {
	c := newCatalog(t)
	dir := filepath.Join(c.BackupRoot, layout.GlobalDir)
	const (
		good     = "20250101_000001"
		mixed    = "20250101_000002"
		bare     = "20250101_000003"
		twice    = "20250101_000004"
		disagree = "20250101_000005"
	)
	pg, csv := layout.FormatPGCopy, layout.FormatCSV
	both := map[string]string{layout.CollectionTable: pg, layout.EmbeddingTable: pg}
	write(t, dir,
		layout.DataFileName(layout.CollectionTable, good, pg), layout.DataFileName(layout.EmbeddingTable, good, pg),
		layout.ManifestName(layout.KindSnapshot, good)+"="+formatManifest(t, good, both),
		layout.DataFileName(layout.CollectionTable, mixed, csv), layout.DataFileName(layout.EmbeddingTable, mixed, pg),
		layout.ManifestName(layout.KindSnapshot, mixed)+"="+formatManifest(t, mixed, map[string]string{layout.CollectionTable: csv, layout.EmbeddingTable: pg}),
		layout.DataFileName(layout.CollectionTable, bare, pg), layout.DataFileName(layout.EmbeddingTable, bare, pg),
		layout.DataFileName(layout.CollectionTable, twice, pg), layout.DataFileName(layout.EmbeddingTable, twice, pg), layout.DataFileName(layout.EmbeddingTable, twice, csv),
		layout.ManifestName(layout.KindSnapshot, twice)+"="+formatManifest(t, twice, both),
		layout.DataFileName(layout.CollectionTable, disagree, csv), layout.DataFileName(layout.EmbeddingTable, disagree, pg),
		layout.ManifestName(layout.KindSnapshot, disagree)+"="+formatManifest(t, disagree, both),
	)
	ctx := context.Background()
	key := keyOf(t, c, dir)
	for ts, want := range map[string][2]string{good: {"pgcopy", "pgcopy"}, mixed: {"csv", "pgcopy"}} {
		s, err := c.FindSet(ctx, key, ts)
		if err != nil {
			t.Fatalf("set %s: %v", ts, err)
		}
		for i, table := range layout.Tables() {
			if got := s.File(table); got != layout.DataFileName(table, ts, want[i]) {
				t.Errorf("set %s: %s file %s, want .%s", ts, table, got, want[i])
			}
		}
		files, err := s.Open(ctx)
		if err != nil {
			t.Fatalf("open set %s: %v", ts, err)
		}
		if d, ok := files.File(layout.EmbeddingTable).(DataFile); !ok || d.Entry().Format != pg {
			t.Errorf("set %s: the embedding file does not carry its manifest entry", ts)
		}
		files.Close()
	}
	for ts, reason := range map[string]string{bare: "without the manifest", twice: "more than one file"} {
		_, err := c.FindSet(ctx, key, ts)
		if e := wantType(t, err, apierr.ResourceNotFound); !strings.Contains(e.Message, reason) {
			t.Errorf("set %s: %q, want it incomplete: %s", ts, e.Message, reason)
		}
	}
	s, err := c.FindSet(ctx, key, disagree)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx); !strings.Contains(wantType(t, err, apierr.BackupCorrupt).Message, "manifest says pgcopy") {
		t.Errorf("a file named CSV whose manifest says binary: %v", err)
	}
}
