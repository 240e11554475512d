package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

const defaultRoot = "data_pipeline/training_data"

// write creates files (and their folders) under dir. A name ending in "/"
// is an empty folder; "name=content" gives content, else the content is the
// name itself so files differ in size.
func write(t testing.TB, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		content := name
		if i := strings.Index(name, "="); i >= 0 {
			name, content = name[:i], name[i+1:]
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// set returns the two CSV names of a set, relative to folder.
func set(folder, ts string) []string {
	return []string{
		filepath.Join(folder, "langchain_pg_collection_"+ts+".csv"),
		filepath.Join(folder, "langchain_pg_embedding_"+ts+".csv"),
	}
}

func newCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := New(t.TempDir(), defaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantType(t *testing.T, err error, want apierr.Type) *apierr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	e, ok := apierr.As(err)
	if !ok {
		t.Fatalf("got %v (%T), want an apierr %s", err, err, want)
	}
	if e.Type != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	return e
}

const taskLog = "=== Vector Table Backup Log ===\r\n" +
	"Backup Time: 2025-07-21 21:57:58\r\n" +
	"Task ID: task_20250721_213627\r\n" +
	"Duration: 0.15s\r\n\r\n" +
	"Tables Backup Status:\r\n" +
	"✓ langchain_pg_collection: 4 rows -> langchain_pg_collection_20250721_215758.csv (209.0 B)\r\n" +
	"✓ langchain_pg_embedding: 58 rows -> langchain_pg_embedding_20250721_215758.csv (764.0 KB)\r\n"

// tree builds the layout of the contract's example with every odd case the
// scanner must handle.
func tree(t testing.TB, root string) {
	t.Helper()
	var files []string
	add := func(names ...string) { files = append(files, names...) }
	add(set("vector_bak", "20250720_100000")...)
	add(set("global_vector_bak", "20250722_010318")...)
	add(set("global_vector_bak", "20250721_000000")...)

	task := "task_20250721_213627/vector_bak"
	add(set(task, "20250721_215758")...)
	add(set(task, "20250721_214000")...)
	add(task + "/vector_backup_log.txt=" + taskLog)
	// Only the embedding file: incomplete.
	add(task + "/langchain_pg_embedding_20250721_220000.csv")
	// Both files, but a .tmp leftover: half-written.
	add(set(task, "20250721_230000")...)
	add(task + "/langchain_pg_embedding_20250721_230000.csv.tmp")
	// Invalid timestamps are ignored.
	add(set(task, "20251340_256199")...)
	add(set(task, "2025072_215758")...)
	add(task + "/notes.txt")
	add(task + "/vector_backup_manifest_20250721_214000.json={}")

	add(set("manual_20250722_101500/vector_bak", "20250722_101500")...)
	add("zzz_other/vector_bak/")                                               // exists, holds nothing: still listed
	add("task_file/vector_bak")                                                // a file named vector_bak: ignored
	add("task_nobak/something/")                                               // no vector_bak: ignored
	add("readme.txt")                                                          // a file at the top: ignored
	add("task_deep/x/vector_bak/")                                             // vector_bak below the first level: ignored
	add("task_dirset/vector_bak/langchain_pg_collection_20250101_000000.csv/") // a folder, not a file
	write(t, root, files...)
}

func TestScan(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)

	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type loc struct {
		typ, task, rel string
		sets           []string
		incomplete     []string
	}
	var got []loc
	for _, l := range s.Locations {
		g := loc{typ: l.Type, task: l.TaskID, rel: l.RelativePath}
		for _, st := range l.Sets {
			g.sets = append(g.sets, st.Timestamp)
		}
		for _, inc := range l.Incomplete {
			g.incomplete = append(g.incomplete, inc.Timestamp+": "+inc.Reason)
		}
		if l.Sets == nil || l.Incomplete == nil {
			t.Errorf("%s: nil slices", l.RelativePath)
		}
		if filepath.Join(c.BackupRoot, filepath.FromSlash(l.Dir)) != filepath.Join(c.ProjectRoot, filepath.FromSlash(l.RelativePath)) {
			t.Errorf("%s: Dir %s", l.RelativePath, l.Dir)
		}
		got = append(got, g)
	}
	want := []loc{
		{typ: "global", rel: "./data_pipeline/training_data/global_vector_bak", sets: []string{"20250722_010318", "20250721_000000"}},
		{typ: "global", rel: "./data_pipeline/training_data/vector_bak", sets: []string{"20250720_100000"}},
		{typ: "task", task: "zzz_other", rel: "./data_pipeline/training_data/zzz_other/vector_bak"},
		{typ: "task", task: "task_dirset", rel: "./data_pipeline/training_data/task_dirset/vector_bak"},
		{typ: "task", task: "task_20250721_213627", rel: "./data_pipeline/training_data/task_20250721_213627/vector_bak",
			sets: []string{"20250721_215758", "20250721_214000"},
			incomplete: []string{
				"20250721_230000: half-written: langchain_pg_embedding_20250721_230000.csv.tmp present",
				"20250721_220000: collection file missing",
			}},
		{typ: "task", task: "manual_20250722_101500", rel: "./data_pipeline/training_data/manual_20250722_101500/vector_bak", sets: []string{"20250722_101500"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("locations:\n got %+v\nwant %+v", got, want)
	}
	if time.Since(s.ScanTime) > time.Minute {
		t.Errorf("ScanTime %v", s.ScanTime)
	}
}

func TestScanSetDetails(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)
	s, err := c.Scan(context.Background(), Filter{TaskID: "task_20250721_213627"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Locations) != 1 {
		t.Fatalf("got %d locations", len(s.Locations))
	}
	l := s.Locations[0]
	dir := filepath.Join(c.BackupRoot, "task_20250721_213627", "vector_bak")

	logged, other := l.Sets[0], l.Sets[1]
	if logged.LogFile != "vector_backup_log.txt" {
		t.Errorf("LogFile = %q", logged.LogFile)
	}
	if want := map[string]int64{"langchain_pg_collection": 4, "langchain_pg_embedding": 58}; !reflect.DeepEqual(logged.RowCounts, want) {
		t.Errorf("RowCounts = %v, want %v", logged.RowCounts, want)
	}
	if logged.BackupDate() != "2025-07-21 21:57:58" {
		t.Errorf("BackupDate = %q", logged.BackupDate())
	}
	if want := time.Date(2025, 7, 21, 21, 57, 58, 0, time.UTC); !logged.Time().Equal(want) || logged.Time().Location() != time.UTC {
		t.Errorf("Time = %v", logged.Time())
	}
	if logged.Path(layout.CollectionTable) != filepath.Join(dir, "langchain_pg_collection_20250721_215758.csv") ||
		logged.Path(layout.EmbeddingTable) != filepath.Join(dir, "langchain_pg_embedding_20250721_215758.csv") {
		t.Errorf("paths %s %s", logged.Path(layout.CollectionTable), logged.Path(layout.EmbeddingTable))
	}
	// write() makes each file's content its own relative name.
	if n := int64(len("task_20250721_213627/vector_bak/langchain_pg_embedding_20250721_215758.csv")); logged.Bytes[layout.EmbeddingTable] != n {
		t.Errorf("EmbeddingBytes = %d, want %d", logged.Bytes[layout.EmbeddingTable], n)
	}
	if logged.ManifestFile != "" {
		t.Errorf("ManifestFile %q", logged.ManifestFile)
	}

	// The log describes another set: nothing of it is attached here.
	if other.LogFile != "" || other.RowCounts != nil {
		t.Errorf("unmentioned set got LogFile %q RowCounts %v", other.LogFile, other.RowCounts)
	}
	if other.ManifestFile != "vector_backup_manifest_20250721_214000.json" {
		t.Errorf("ManifestFile = %q", other.ManifestFile)
	}

	half := l.Incomplete[0]
	if want := []string{"langchain_pg_collection_20250721_230000.csv", "langchain_pg_embedding_20250721_230000.csv", "langchain_pg_embedding_20250721_230000.csv.tmp"}; !reflect.DeepEqual(half.Files, want) {
		t.Errorf("Files = %v", half.Files)
	}
	if len(half.Missing) != 0 || half.Missing == nil {
		t.Errorf("Missing = %#v", half.Missing)
	}
	if want := []string{"langchain_pg_collection_20250721_220000.csv"}; !reflect.DeepEqual(l.Incomplete[1].Missing, want) {
		t.Errorf("Missing = %v", l.Incomplete[1].Missing)
	}
}

func TestScanFilter(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)
	tests := []struct {
		name   string
		filter Filter
		want   []string // relative paths below the backup root
		err    apierr.Type
	}{
		{name: "global only", filter: Filter{GlobalOnly: true}, want: []string{"global_vector_bak", "vector_bak"}},
		{name: "global only wins over task", filter: Filter{GlobalOnly: true, TaskID: "zzz_other"}, want: []string{"global_vector_bak", "vector_bak"}},
		{name: "task", filter: Filter{TaskID: "manual_20250722_101500"}, want: []string{"manual_20250722_101500/vector_bak"}},
		{name: "task trimmed", filter: Filter{TaskID: " zzz_other "}, want: []string{"zzz_other/vector_bak"}},
		{name: "unknown task", filter: Filter{TaskID: "task_19990101_000000"}},
		{name: "task without vector_bak", filter: Filter{TaskID: "task_nobak"}},
		{name: "global name is no task", filter: Filter{TaskID: "vector_bak"}},
		{name: "dotdot", filter: Filter{TaskID: ".."}, err: apierr.InvalidParams},
		{name: "dot", filter: Filter{TaskID: "."}, err: apierr.InvalidParams},
		{name: "separator", filter: Filter{TaskID: "task_x/vector_bak"}, err: apierr.InvalidParams},
		{name: "escape", filter: Filter{TaskID: "../../etc"}, err: apierr.InvalidParams},
		{name: "backslash", filter: Filter{TaskID: `a\b`}, err: apierr.InvalidParams},
		{name: "blank", filter: Filter{TaskID: "   "}, err: apierr.InvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Scan(context.Background(), tt.filter)
			if tt.err != "" {
				if e := wantType(t, err, tt.err); e.Details["param"] != "task_id" {
					t.Errorf("details %v", e.Details)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range s.Locations {
				got = append(got, l.Dir)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if s.Locations == nil {
				t.Error("Locations is nil")
			}
		})
	}
}

func TestScanSymlinks(t *testing.T) {
	c := newCatalog(t)
	outside := t.TempDir()
	write(t, outside, set("vector_bak", "20250101_000000")...)
	write(t, outside, "secret.csv")
	write(t, c.BackupRoot, set("task_a/vector_bak", "20250102_000000")...)
	write(t, c.BackupRoot, "task_c/")

	symlink(t, filepath.Join(c.BackupRoot, "task_a"), filepath.Join(c.BackupRoot, "task_b"))              // inside: listed
	symlink(t, outside, filepath.Join(c.BackupRoot, "task_out"))                                          // outside: skipped
	symlink(t, filepath.Join(outside, "vector_bak"), filepath.Join(c.BackupRoot, "task_c", "vector_bak")) // outside: skipped
	symlink(t, filepath.Join(outside, "vector_bak"), filepath.Join(c.BackupRoot, "global_vector_bak"))    // outside: skipped
	symlink(t, "loop2", filepath.Join(c.BackupRoot, "loop1"))
	symlink(t, "loop1", filepath.Join(c.BackupRoot, "loop2"))
	symlink(t, "missing", filepath.Join(c.BackupRoot, "broken"))
	// A set whose file links out of the root is not a set.
	dir := filepath.Join(c.BackupRoot, "task_a", "vector_bak")
	write(t, dir, "langchain_pg_collection_20250103_000000.csv")
	symlink(t, filepath.Join(outside, "secret.csv"), filepath.Join(dir, "langchain_pg_embedding_20250103_000000.csv"))

	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range s.Locations {
		got = append(got, l.TaskID)
		if len(l.Sets) != 1 || l.Sets[0].Timestamp != "20250102_000000" {
			t.Errorf("%s: sets %+v", l.TaskID, l.Sets)
		}
		if len(l.Incomplete) != 1 || l.Incomplete[0].Reason != "embedding file missing" {
			t.Errorf("%s: incomplete %+v", l.TaskID, l.Incomplete)
		}
	}
	if want := []string{"task_b", "task_a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestScanMissingRoot(t *testing.T) {
	c := newCatalog(t)
	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Locations == nil || len(s.Locations) != 0 {
		t.Errorf("Locations = %#v", s.Locations)
	}
	if s, err := c.Scan(context.Background(), Filter{TaskID: "task_x"}); err != nil || len(s.Locations) != 0 {
		t.Errorf("task filter: %v %v", s, err)
	}
}

func TestScanCancelled(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Scan(ctx, Filter{})
	wantType(t, err, apierr.Cancelled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", err)
	}
}

func TestScanBigLogIgnored(t *testing.T) {
	c := newCatalog(t)
	write(t, c.BackupRoot, set("vector_bak", "20250721_215758")...)
	big := taskLog + strings.Repeat("x", layout.MaxLogBytes)
	write(t, c.BackupRoot, "vector_bak/vector_backup_log.txt="+big)
	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Locations[0].Sets[0]; st.LogFile != "" || st.RowCounts != nil {
		t.Errorf("big log was read: %q %v", st.LogFile, st.RowCounts)
	}
}

func TestNew(t *testing.T) {
	project := t.TempDir()
	real := t.TempDir()
	abs := t.TempDir()
	symlink(t, real, filepath.Join(project, "link"))

	tests := []struct {
		name, project, root string
		wantRoot, wantRel   string
	}{
		{name: "relative root", project: project, root: defaultRoot,
			wantRoot: filepath.Join(project, defaultRoot), wantRel: "./data_pipeline/training_data/vector_bak"},
		{name: "root through symlink", project: project, root: "link/backups",
			wantRoot: filepath.Join(real, "backups"), wantRel: filepath.ToSlash(filepath.Join(real, "backups", "vector_bak"))},
		{name: "absolute root outside project", project: project, root: abs,
			wantRoot: abs, wantRel: filepath.ToSlash(filepath.Join(abs, "vector_bak"))},
		{name: "project through symlink", project: filepath.Join(project, "link"), root: "b",
			wantRoot: filepath.Join(real, "b"), wantRel: "./b/vector_bak"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.project, tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if c.BackupRoot != tt.wantRoot {
				t.Errorf("BackupRoot = %s, want %s", c.BackupRoot, tt.wantRoot)
			}
			write(t, c.BackupRoot, "vector_bak/")
			s, err := c.Scan(context.Background(), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Locations) != 1 || s.Locations[0].RelativePath != tt.wantRel {
				t.Errorf("locations %+v, want %s", s.Locations, tt.wantRel)
			}
		})
	}

	if _, err := New(filepath.Join(project, "missing"), defaultRoot); err == nil {
		t.Error("missing project root: no error")
	}
}

func TestResolve(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)
	outside := t.TempDir()
	write(t, outside, "vector_bak/")
	sibling := c.BackupRoot + "2"
	write(t, sibling, "vector_bak/")
	root := c.BackupRoot
	task := filepath.Join(root, "task_20250721_213627", "vector_bak")

	symlink(t, outside, filepath.Join(root, "escape"))
	symlink(t, filepath.Join(root, "task_20250721_213627"), filepath.Join(root, "alias"))
	symlink(t, "loop2", filepath.Join(root, "loop1"))
	symlink(t, "loop1", filepath.Join(root, "loop2"))
	symlink(t, "../..", filepath.Join(root, "up"))

	tests := []struct {
		name, path string
		want       string
		err        apierr.Type
	}{
		{name: "relative", path: "./data_pipeline/training_data/task_20250721_213627/vector_bak", want: task},
		{name: "relative without dot", path: "data_pipeline/training_data/vector_bak", want: filepath.Join(root, "vector_bak")},
		{name: "trailing slash", path: "./data_pipeline/training_data/vector_bak/", want: filepath.Join(root, "vector_bak")},
		{name: "absolute", path: task, want: task},
		{name: "root itself", path: "./data_pipeline/training_data", want: root},
		{name: "dotdot inside", path: "./data_pipeline/training_data/vector_bak/../global_vector_bak", want: filepath.Join(root, "global_vector_bak")},
		{name: "symlink inside to inside", path: "./data_pipeline/training_data/alias/vector_bak", want: task},
		{name: "dotdot escape", path: "./data_pipeline/training_data/../../", err: apierr.Forbidden},
		{name: "dotdot escape deep", path: "./data_pipeline/training_data/vector_bak/../../../../../etc", err: apierr.Forbidden},
		{name: "project root", path: ".", err: apierr.Forbidden},
		{name: "absolute outside", path: outside, err: apierr.Forbidden},
		{name: "etc", path: "/etc", err: apierr.Forbidden},
		{name: "sibling prefix", path: sibling, err: apierr.Forbidden},
		{name: "sibling prefix relative", path: "./data_pipeline/training_data2/vector_bak", err: apierr.Forbidden},
		{name: "symlink to outside", path: "./data_pipeline/training_data/escape", err: apierr.Forbidden},
		{name: "symlink to outside child", path: "./data_pipeline/training_data/escape/vector_bak", err: apierr.Forbidden},
		{name: "symlink to outside missing child", path: "./data_pipeline/training_data/escape/nope", err: apierr.Forbidden},
		{name: "symlink up", path: "./data_pipeline/training_data/up", err: apierr.Forbidden},
		{name: "missing", path: "./data_pipeline/training_data/task_nope/vector_bak", err: apierr.ResourceNotFound},
		{name: "below a file", path: "./data_pipeline/training_data/readme.txt/x", err: apierr.ResourceNotFound},
		{name: "file", path: "./data_pipeline/training_data/readme.txt", err: apierr.InvalidParams},
		{name: "symlink loop", path: "./data_pipeline/training_data/loop1", err: apierr.InvalidParams},
		{name: "symlink loop child", path: "./data_pipeline/training_data/loop1/x", err: apierr.InvalidParams},
		{name: "empty", path: "", err: apierr.InvalidParams},
		{name: "blank", path: "  ", err: apierr.InvalidParams},
		{name: "NUL", path: "./data_pipeline/training_data/vector_bak\x00/x", err: apierr.InvalidParams},
		{name: "very long", path: "./data_pipeline/training_data/" + strings.Repeat("a/", 5000), err: apierr.InvalidParams},
		{name: "long name", path: "./data_pipeline/training_data/" + strings.Repeat("a", 300), err: apierr.InvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var got string
			var err error
			go func() {
				defer close(done)
				got, err = c.Resolve(context.Background(), tt.path)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Resolve hangs")
			}

			if tt.err != "" {
				e := wantType(t, err, tt.err)
				if e.Details["param"] != "backup_path" {
					t.Errorf("details %v", e.Details)
				}
				if tt.err == apierr.Forbidden && !strings.Contains(e.Message, "./data_pipeline/training_data;") {
					t.Errorf("message does not name the backup root: %s", e.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := keyOf(t, c, tt.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// keyOf is the store key of abs, a path inside c's backup root.
func keyOf(t *testing.T, c *Catalog, abs string) string {
	t.Helper()
	rel, err := filepath.Rel(c.BackupRoot, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return abs // outside: no key, and no key equals it
	}
	if rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}

func TestResolveNotFoundMessage(t *testing.T) {
	c := newCatalog(t)
	_, err := c.Resolve(context.Background(), "./data_pipeline/training_data/vector_bak")
	e := wantType(t, err, apierr.ResourceNotFound)
	if !strings.Contains(e.Message, "backup folder does not exist: ./data_pipeline/training_data/vector_bak") {
		t.Errorf("message %q", e.Message)
	}
	if e.Details["backup_path"] != "./data_pipeline/training_data/vector_bak" {
		t.Errorf("details %v", e.Details)
	}
}

func TestFindSet(t *testing.T) {
	c := newCatalog(t)
	tree(t, c.BackupRoot)
	write(t, c.BackupRoot, "empty/vector_bak/", "only_bad/vector_bak/langchain_pg_embedding_20250101_000000.csv")
	task := filepath.Join(c.BackupRoot, "task_20250721_213627", "vector_bak")

	tests := []struct {
		name, dir, ts string
		want          string
		err           apierr.Type
		msg           []string
	}{
		{name: "exact", dir: task, ts: "20250721_214000", want: "20250721_214000"},
		{name: "latest", dir: task, ts: "latest", want: "20250721_215758"},
		{name: "latest global", dir: filepath.Join(c.BackupRoot, "global_vector_bak"), ts: "latest", want: "20250722_010318"},
		{name: "invalid", dir: task, ts: "2025-07-21", err: apierr.InvalidParams, msg: []string{"timestamp", "YYYYMMDD_HHMMSS", "20250721_215758"}},
		{name: "impossible date", dir: task, ts: "20250230_120000", err: apierr.InvalidParams},
		{name: "missing", dir: task, ts: "20250101_000000", err: apierr.ResourceNotFound,
			msg: []string{"langchain_pg_collection_20250101_000000.csv", "langchain_pg_embedding_20250101_000000.csv", "./data_pipeline/training_data/task_20250721_213627/vector_bak", "20250721_215758"}},
		{name: "file missing", dir: task, ts: "20250721_220000", err: apierr.ResourceNotFound, msg: []string{"collection file missing"}},
		{name: "half-written", dir: task, ts: "20250721_230000", err: apierr.ResourceNotFound, msg: []string{"half-written", ".csv.tmp"}},
		{name: "latest none", dir: filepath.Join(c.BackupRoot, "empty", "vector_bak"), ts: "latest", err: apierr.ResourceNotFound},
		{name: "latest only incomplete", dir: filepath.Join(c.BackupRoot, "only_bad", "vector_bak"), ts: "latest", err: apierr.ResourceNotFound, msg: []string{"collection file missing"}},
		{name: "outside root", dir: t.TempDir(), ts: "latest", err: apierr.Forbidden},
		{name: "folder gone", dir: filepath.Join(c.BackupRoot, "gone", "vector_bak"), ts: "latest", err: apierr.ResourceNotFound, msg: []string{"does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.FindSet(context.Background(), keyOf(t, c, tt.dir), tt.ts)
			if tt.err != "" {
				e := wantType(t, err, tt.err)
				for _, m := range tt.msg {
					if !strings.Contains(e.Message, m) {
						t.Errorf("message %q lacks %q", e.Message, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Timestamp != tt.want || s.Dir != keyOf(t, c, tt.dir) {
				t.Errorf("got %s in %s", s.Timestamp, s.Dir)
			}
		})
	}
}

func TestInside(t *testing.T) {
	tests := []struct {
		root, p string
		want    bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/b/c", true},
		{"/a/b", "/a/b/..c", true},
		{"/a/b", "/a/b2", false},
		{"/a/b", "/a", false},
		{"/a/b", "/a/c/../b", true},
		{"/", "/x", true},
	}
	for _, tt := range tests {
		if got := inside(tt.root, tt.p); got != tt.want {
			t.Errorf("inside(%q, %q) = %v, want %v", tt.root, tt.p, got, tt.want)
		}
	}
}

// FuzzResolve checks that whatever a caller sends, Resolve neither panics nor
// returns a folder outside the backup root.
func FuzzResolve(f *testing.F) {
	project := f.TempDir()
	c, err := New(project, defaultRoot)
	if err != nil {
		f.Fatal(err)
	}
	tree(f, c.BackupRoot)
	outside := f.TempDir()
	write(f, outside, "vector_bak/")
	write(f, project, "data_pipeline/training_data2/vector_bak/")
	root := c.BackupRoot
	symlink(f, outside, filepath.Join(root, "escape"))
	symlink(f, filepath.Join(root, "task_20250721_213627"), filepath.Join(root, "alias"))
	symlink(f, "loop2", filepath.Join(root, "loop1"))
	symlink(f, "loop1", filepath.Join(root, "loop2"))
	symlink(f, "../..", filepath.Join(root, "up"))
	symlink(f, "/", filepath.Join(root, "slash"))

	for _, s := range []string{
		"./data_pipeline/training_data/vector_bak",
		root + "/alias/vector_bak",
		"./data_pipeline/training_data/escape/vector_bak",
		"./data_pipeline/training_data/up/data_pipeline/training_data2",
	} {
		f.Add(s)
	}

	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got, err := c.Resolve(context.Background(), path)
		if err != nil {
			if _, ok := apierr.As(err); !ok {
				t.Fatalf("Resolve(%q): error without a contract type: %v", path, err)
			}
			return
		}
		real, err := filepath.EvalSymlinks(filepath.Join(c.BackupRoot, filepath.FromSlash(got)))
		if err != nil {
			t.Fatalf("Resolve(%q) = %s, which does not resolve: %v", path, got, err)
		}
		rel, err := filepath.Rel(realRoot, real)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("Resolve(%q) = %s, outside the backup root %s", path, real, realRoot)
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			t.Fatalf("Resolve(%q) = %s, not a folder", path, real)
		}
	})
}
