package service_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// listWorld is a backup root with sets spread over global and task folders,
// timestamps interleaved, and ties of one second across folders.
type listWorld struct {
	svc     *service.Service
	backups string
}

func newListWorld(t *testing.T) *listWorld {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{})
	return &listWorld{backups: p.Backups, svc: &service.Service{Catalog: p.Catalog(t), Policy: dbaccess.NewPolicy("", nil)}}
}

// set writes the two (tiny) files of a set in folder, relative to the backup
// root; with a snapshot manifest when kind is "snapshot".
func (w *listWorld) set(t *testing.T, folder, ts, kind string) {
	t.Helper()
	dir := filepath.Join(w.backups, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []string{"langchain_pg_collection_" + ts + ".csv", "langchain_pg_embedding_" + ts + ".csv"}
	if kind == "snapshot" {
		files = append(files, "vector_snapshot_manifest_"+ts+".json")
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *listWorld) remove(t *testing.T, folder, ts string) {
	t.Helper()
	for _, table := range layout.Tables() {
		if err := os.Remove(filepath.Join(w.backups, folder, table+"_"+ts+".csv")); err != nil {
			t.Fatal(err)
		}
	}
}

// flat renders a page as "folder/timestamp" in page order, checking that
// each location's sets are newest first.
func flat(t *testing.T, res *schemas.ListResult) []string {
	t.Helper()
	var out []string
	for _, loc := range res.BackupLocations {
		name := strings.TrimSuffix(strings.TrimPrefix(loc.RelativePath, "./data_pipeline/training_data/"), "/vector_bak")
		for i, b := range loc.Backups {
			if i > 0 && b.Timestamp > loc.Backups[i-1].Timestamp {
				t.Errorf("%s: sets not newest first: %s after %s", name, b.Timestamp, loc.Backups[i-1].Timestamp)
			}
			out = append(out, name+"/"+b.Timestamp)
		}
	}
	return out
}

// TestListOrder checks the contract's order: sets newest first across all
// locations (ties: global before task, then folder name), grouped per page
// by location in the order of their newest set; paging walks that order,
// unshaken by sets written or removed between pages; the summary counts the
// whole scan.
func TestListOrder(t *testing.T) {
	w := newListWorld(t)
	w.set(t, "vector_bak", "20250101_000000", "backup")
	w.set(t, "vector_bak", "20250105_000000", "backup")
	w.set(t, "global_vector_bak", "20250105_000000", "snapshot") // ties with vector_bak and two tasks
	w.set(t, "global_vector_bak", "20250103_000000", "backup")
	w.set(t, "task_b/vector_bak", "20250105_000000", "backup")
	w.set(t, "task_a/vector_bak", "20250105_000000", "backup")
	w.set(t, "task_a/vector_bak", "20250102_000000", "backup")
	w.set(t, "manual_x/vector_bak", "20250104_000000", "backup")
	if err := os.MkdirAll(filepath.Join(w.backups, "task_empty", "vector_bak"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An incomplete set, listed on the first page only.
	if err := os.WriteFile(filepath.Join(w.backups, "task_a", "vector_bak", "langchain_pg_embedding_20250106_000000.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	want := []string{
		"global_vector_bak/20250105_000000",
		"vector_bak/20250105_000000",
		"task_a/20250105_000000",
		"task_b/20250105_000000",
		"manual_x/20250104_000000",
		"global_vector_bak/20250103_000000",
		"task_a/20250102_000000",
		"vector_bak/20250101_000000",
	}
	all, err := w.svc.ListAll(ctx, schemas.ListArgs{})
	if err != nil {
		t.Fatal(err)
	}
	// Grouped: each location once, in the order of its newest set; the
	// empty task folder last.
	var locs []string
	for _, l := range all.BackupLocations {
		locs = append(locs, l.RelativePath)
	}
	wantLocs := []string{"global_vector_bak", "vector_bak", "task_a/vector_bak", "task_b/vector_bak", "manual_x/vector_bak", "task_empty/vector_bak"}
	for i := range wantLocs {
		wantLocs[i] = "./data_pipeline/training_data/" + wantLocs[i]
	}
	if !reflect.DeepEqual(locs, wantLocs) {
		t.Errorf("locations\n got %v\nwant %v", locs, wantLocs)
	}
	grouped := flat(t, all)
	if len(grouped) != len(want) || all.NextCursor != "" {
		t.Fatalf("ListAll gave %d sets (next_cursor %q), want all %d", len(grouped), all.NextCursor, len(want))
	}
	if all.Summary.TotalBackupSets != 8 || all.Summary.TotalLocations != 6 || all.Summary.GlobalBackups != 4 || all.Summary.TaskBackups != 4 {
		t.Errorf("summary %+v", all.Summary)
	}
	if len(all.Incomplete) != 1 || all.Incomplete[0].Timestamp != "20250106_000000" {
		t.Errorf("incomplete %+v", all.Incomplete)
	}
	for _, l := range all.BackupLocations {
		for _, b := range l.Backups {
			wantKind := "backup"
			if strings.HasSuffix(l.RelativePath, "/global_vector_bak") && b.Timestamp == "20250105_000000" {
				wantKind = "snapshot"
			}
			if b.Kind != wantKind {
				t.Errorf("%s %s: kind %q, want %q", l.RelativePath, b.Timestamp, b.Kind, wantKind)
			}
		}
	}

	// The first page of 3 holds the three newest sets wherever they live.
	first, err := w.svc.List(ctx, schemas.ListArgs{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := flat(t, first); !reflect.DeepEqual(got, want[:3]) {
		t.Errorf("first page\n got %v\nwant %v", got, want[:3])
	}

	// Paging by 2 walks the same order; between pages a set older than the
	// cursor appears, and the set the cursor names disappears.
	var paged []string
	cursor := ""
	for page := 0; ; page++ {
		res, err := w.svc.List(ctx, schemas.ListArgs{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page > 0 && (len(res.Incomplete) != 0 || len(res.BackupLocations) > 2) {
			t.Errorf("page %d repeats first-page extras: %d incomplete, %d locations", page, len(res.Incomplete), len(res.BackupLocations))
		}
		got := flat(t, res)
		paged = append(paged, got...)
		switch page {
		case 0:
			w.set(t, "task_c/vector_bak", "20250101_120000", "backup")
			w.remove(t, "vector_bak", "20250105_000000") // the cursor's own set
		}
		if res.NextCursor == "" {
			break
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
		cursor = res.NextCursor
	}
	wantPaged := append(append([]string{}, want[:7]...), "task_c/20250101_120000", want[7])
	if !reflect.DeepEqual(paged, wantPaged) {
		t.Errorf("paged\n got %v\nwant %v", paged, wantPaged)
	}

	// The filters narrow the same order.
	global, err := w.svc.List(ctx, schemas.ListArgs{GlobalOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(flat(t, global)); got != "[global_vector_bak/20250105_000000 global_vector_bak/20250103_000000 vector_bak/20250101_000000]" {
		t.Errorf("global only: %s", got)
	}
}
