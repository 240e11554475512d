package backup_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestLeftovers: what a writer of this server that died left (its own
// temporary names, unlocked, not new) is removed by the next write into the
// folder; a file a live writer holds, one just created, and the pipeline's
// own .tmp files are never touched.
func TestLeftovers(t *testing.T) {
	t.Parallel()
	data := sample.Generate(21, collectionNames, 3, 4)
	db := seeded(t, sample.Default, data)
	dir := filepath.Join(tempRoot(t), "global_vector_bak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	file := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := file(layout.ServerTmpName(layout.FileName(layout.EmbeddingTable, "20250101_000000")), old)
	live := file(layout.ServerTmpName(layout.FileName(layout.EmbeddingTable, "20250101_000001")), old)
	fresh := file(layout.ServerTmpName(layout.FileName(layout.EmbeddingTable, "20250101_000002")), time.Now())
	pipeline := file(layout.TmpName(layout.FileName(layout.EmbeddingTable, "20250101_000003")), old)

	// A live writer holds its file locked (another open file description,
	// as another process would have).
	held, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	mustWrite(t, db, backup.Request{Dir: dir})
	for path, want := range map[string]bool{dead: false, live: true, fresh: true, pipeline: true} {
		_, err := os.Lstat(path)
		if got := err == nil; got != want {
			t.Errorf("%s present: %v, want %v", filepath.Base(path), got, want)
		}
	}
}

// TestStampsKeepToTheClock: writes racing into one folder never stamp a set
// more than a moment ahead of the clock; they wait for it instead.
func TestStampsKeepToTheClock(t *testing.T) {
	t.Parallel()
	data := sample.Generate(22, collectionNames, 3, 4)
	db := seeded(t, sample.Default, data)
	dir := filepath.Join(tempRoot(t), "global_vector_bak")
	for i := range 6 {
		w := mustWrite(t, db, backup.Request{Dir: dir})
		stamped, err := time.ParseInLocation(tsLayout, w.Timestamp, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		if ahead := time.Until(stamped); ahead > 2*time.Second {
			t.Errorf("write %d stamped %s, %v ahead of the clock", i, w.Timestamp, ahead)
		}
	}
}
