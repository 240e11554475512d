package catalog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// manifestFile returns "name=content" for write: the manifest of set ts in
// folder, of kind, giving these row counts.
func manifestFile(t *testing.T, folder, kind, ts string, collections, embeddings int64) string {
	t.Helper()
	return filepath.Join(folder, layout.ManifestName(kind, ts)) + "=" + manifestJSON(t, kind, ts, collections, embeddings)
}

// manifestJSON is a manifest of set ts giving these row counts.
func manifestJSON(t *testing.T, kind, ts string, collections, embeddings int64) string {
	t.Helper()
	m := layout.Manifest{
		FormatVersion: layout.FormatVersion,
		Kind:          kind,
		Timestamp:     ts,
		Tables:        layout.Tables(),
		Files: map[string]layout.FileEntry{
			layout.CollectionTable: {File: layout.FileName(layout.CollectionTable, ts), Rows: collections},
			layout.EmbeddingTable:  {File: layout.FileName(layout.EmbeddingTable, ts), Rows: embeddings},
		},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDetailCountsFromManifest: a set with a manifest gets its row counts
// from it (the log's line, if any, gives way: the manifest is what every
// read of the set checks); a set without one keeps the log's; a manifest
// that cannot be read or describes another set changes nothing. Only the
// sets detailed get counts: a Brief scan's others are left alone, as a list
// reads only its page's.
func TestDetailCountsFromManifest(t *testing.T) {
	c := newCatalog(t)
	const task = "task_20250721_213627/vector_bak"
	write(t, c.BackupRoot, set(task, "20250721_215758")...) // the log's set, and a manifest
	write(t, c.BackupRoot, task+"/vector_backup_log.txt="+taskLog)
	write(t, c.BackupRoot, manifestFile(t, task, layout.KindBackup, "20250721_215758", 5, 60))
	write(t, c.BackupRoot, set(task, "20250722_000000")...) // a manifest only: what this server writes
	write(t, c.BackupRoot, manifestFile(t, task, layout.KindBackup, "20250722_000000", 2, 10))
	write(t, c.BackupRoot, set(task, "20250722_010000")...) // a manifest of another set
	write(t, c.BackupRoot, task+"/"+layout.ManifestName(layout.KindBackup, "20250722_010000")+"="+manifestJSON(t, layout.KindBackup, "20250722_000000", 7, 70))
	write(t, c.BackupRoot, set(task, "20250722_020000")...) // a manifest that is not JSON
	write(t, c.BackupRoot, task+"/"+layout.ManifestName(layout.KindBackup, "20250722_020000")+"=not json")
	write(t, c.BackupRoot, set(task, "20250722_030000")...) // neither log line nor manifest
	write(t, c.BackupRoot, set("global_vector_bak", "20250723_000000")...)
	write(t, c.BackupRoot, manifestFile(t, "global_vector_bak", layout.KindSnapshot, "20250723_000000", 1, 3))

	s, err := c.Scan(context.Background(), Filter{Brief: true})
	if err != nil {
		t.Fatal(err)
	}
	byTS := map[string]*Set{}
	var page []*Set
	for i := range s.Locations {
		for j := range s.Locations[i].Sets {
			st := &s.Locations[i].Sets[j]
			byTS[st.Timestamp] = st
			if st.Timestamp != "20250723_000000" { // not on the page
				page = append(page, st)
			}
		}
	}
	if len(byTS) != 6 {
		t.Fatalf("found %d sets, want 6", len(byTS))
	}
	kept, err := c.Detail(context.Background(), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != len(page) {
		t.Fatalf("Detail kept %d of %d sets", len(kept), len(page))
	}
	counts := func(coll, emb int64) map[string]int64 {
		return map[string]int64{layout.CollectionTable: coll, layout.EmbeddingTable: emb}
	}
	for ts, want := range map[string]map[string]int64{
		"20250721_215758": counts(5, 60), // the manifest's, not the log's 4 and 58
		"20250722_000000": counts(2, 10),
		"20250722_010000": nil,
		"20250722_020000": nil,
		"20250722_030000": nil,
		"20250723_000000": nil, // not detailed: its manifest is not read
	} {
		if got := byTS[ts].RowCounts; !reflect.DeepEqual(got, want) {
			t.Errorf("set %s: RowCounts %v, want %v", ts, got, want)
		}
	}
	if byTS["20250721_215758"].LogFile != layout.LogName {
		t.Errorf("the logged set lost its LogFile: %q", byTS["20250721_215758"].LogFile)
	}

	// FindSet details the one set it finds, from its manifest too.
	found, err := c.FindSet(context.Background(), "global_vector_bak", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if want := counts(1, 3); !reflect.DeepEqual(found.RowCounts, want) {
		t.Errorf("FindSet: RowCounts %v, want %v", found.RowCounts, want)
	}
}

// TestDetailManifestNotFollowedOut: a manifest that is a link out of the
// backup root is not read, as Set.Manifest would not read it.
func TestDetailManifestNotFollowedOut(t *testing.T) {
	c := newCatalog(t)
	write(t, c.BackupRoot, set("vector_bak", "20250722_000000")...)
	outside := t.TempDir()
	write(t, outside, manifestFile(t, ".", layout.KindBackup, "20250722_000000", 9, 99))
	name := layout.ManifestName(layout.KindBackup, "20250722_000000")
	symlink(t, filepath.Join(outside, name), filepath.Join(c.BackupRoot, "vector_bak", name))
	if _, err := os.Stat(filepath.Join(c.BackupRoot, "vector_bak", name)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.Locations {
		for _, st := range l.Sets {
			if st.RowCounts != nil {
				t.Errorf("set %s: RowCounts %v read through a link out of the root", st.Timestamp, st.RowCounts)
			}
		}
	}
}
