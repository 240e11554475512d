package catalog

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// bucketCatalog is a catalog over an in-memory bucket holding keys.
func bucketCatalog(t testing.TB, keys ...string) *Catalog {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, k := range keys {
		if err := store.WriteFile(ctx, st, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := NewStore(t.TempDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keys(dir, ts string) []string {
	return []string{
		dir + "/" + layout.FileName(layout.CollectionTable, ts),
		dir + "/" + layout.FileName(layout.EmbeddingTable, ts),
	}
}

// TestBucketScan: a bucket laid out as a folder lists as the folder does,
// from one flat listing: locations in order, sets newest first, sizes from
// the listing, incomplete sets (a missing file, a claim of a writer still
// at work) shown as such, and keys that are no location left out.
func TestBucketScan(t *testing.T) {
	var all []string
	all = append(all, keys("global_vector_bak", "20250722_010318")...)
	all = append(all, keys("task_20250721_213627/vector_bak", "20250721_215758")...)
	all = append(all, keys("task_20250721_213627/vector_bak", "20250721_220000")...)
	all = append(all, "task_20250721_213627/vector_bak/"+layout.FileName(layout.CollectionTable, "20250721_230000"))
	all = append(all, keys("task_20250801_000000/vector_bak", "20250801_000001")...)
	all = append(all, "task_20250801_000000/vector_bak/"+layout.ServerTmpName(layout.FileName(layout.CollectionTable, "20250801_000001")))
	all = append(all, keys("task_x/deeper/vector_bak", "20250101_000000")...) // no location
	all = append(all, keys("loose", "20250101_000000")...)                    // no location
	c := bucketCatalog(t, all...)

	s, err := c.Scan(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range s.Locations {
		got = append(got, l.Dir)
	}
	want := []string{"global_vector_bak", "task_20250801_000000/vector_bak", "task_20250721_213627/vector_bak"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("locations %v, want %v", got, want)
	}
	task := s.Locations[2]
	if task.TaskID != "task_20250721_213627" || task.RelativePath != "./data_pipeline/training_data/task_20250721_213627/vector_bak" {
		t.Errorf("task location %+v", task)
	}
	if len(task.Sets) != 2 || task.Sets[0].Timestamp != "20250721_220000" || len(task.Incomplete) != 1 {
		t.Fatalf("task sets %+v, incomplete %+v", task.Sets, task.Incomplete)
	}
	if n := task.Sets[0].Bytes[layout.CollectionTable]; n != int64(len(keys("task_20250721_213627/vector_bak", "20250721_220000")[0])) {
		t.Errorf("collection bytes %d", n)
	}
	if claimed := s.Locations[1]; len(claimed.Sets) != 0 || len(claimed.Incomplete) != 1 {
		t.Errorf("a set under a writer's claim: sets %+v incomplete %+v", claimed.Sets, claimed.Incomplete)
	}
}

// TestBucketResolveAndOpen: backup_path in both forms, relative to the
// bucket or the legacy ./data_pipeline/training_data/..., finds the set;
// paths that climb out are refused; the files read back whole.
func TestBucketResolveAndOpen(t *testing.T) {
	ctx := context.Background()
	c := bucketCatalog(t, keys("task_1/vector_bak", "20250721_215758")...)
	for _, p := range []string{"task_1/vector_bak", "./data_pipeline/training_data/task_1/vector_bak", "task_1/vector_bak/"} {
		dir, err := c.Resolve(ctx, p)
		if err != nil || dir != "task_1/vector_bak" {
			t.Errorf("Resolve(%q) = %q, %v", p, dir, err)
		}
	}
	for _, p := range []string{"../x", "/etc", "task_1/../../x"} {
		if _, err := c.Resolve(ctx, p); apierr.TypeOf(err) != apierr.Forbidden {
			t.Errorf("Resolve(%q): %v, want FORBIDDEN", p, err)
		}
	}
	if _, err := c.Resolve(ctx, "task_2/vector_bak"); apierr.TypeOf(err) != apierr.ResourceNotFound {
		t.Errorf("Resolve of a missing folder: %v", err)
	}
	set, err := c.FindSet(ctx, "task_1/vector_bak", "latest")
	if err != nil {
		t.Fatal(err)
	}
	files, err := set.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	r, err := files.File(layout.EmbeddingTable).NewReader(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if string(data) != keys("task_1/vector_bak", "20250721_215758")[1] {
		t.Errorf("read %q", data)
	}
	if _, err := c.FindSet(ctx, "task_1/vector_bak", "20250101_000000"); apierr.TypeOf(err) != apierr.ResourceNotFound {
		t.Errorf("missing set: %v", err)
	}
	if err := c.Store.Remove(ctx, set.Key(layout.EmbeddingTable)); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Open(ctx); !errors.Is(err, store.ErrNotExist) || apierr.TypeOf(err) != apierr.ResourceNotFound {
		t.Errorf("Open after a file vanished: %v", err)
	}
}

// FuzzResolveBucket: whatever backup_path a caller sends, a bucket's
// Resolve answers a key down from the root (no "..", no leading slash, no
// empty or dot element) that names a folder holding keys, or an error of
// the contract's types.
func FuzzResolveBucket(f *testing.F) {
	for _, s := range []string{"task_1/vector_bak", "./data_pipeline/training_data/task_1/vector_bak", "../x", "/etc", "task_1/../../x",
		"task_1/./vector_bak", "task_1//vector_bak", ".", "..", "data_pipeline/training_data/..", "task_1\x00", "task_1\\vector_bak", "%2e%2e/x"} {
		f.Add(s)
	}
	c := bucketCatalog(f, keys("task_1/vector_bak", "20250721_215758")...)
	f.Fuzz(func(t *testing.T, p string) {
		key, err := c.Resolve(context.Background(), p)
		if err != nil {
			if _, ok := apierr.As(err); !ok {
				t.Fatalf("Resolve(%q): error without a contract type: %v", p, err)
			}
			return
		}
		if key == "" {
			return // the root itself
		}
		if !fs.ValidPath(key) {
			t.Fatalf("Resolve(%q) = %q, not a key down from the root", p, key)
		}
		e, err := c.Store.Stat(context.Background(), key)
		if err != nil || !e.Dir {
			t.Fatalf("Resolve(%q) = %q, not a folder of the bucket (%v)", p, key, err)
		}
	})
}
