package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

const (
	dim       = 8
	legacyRel = "./data_pipeline/training_data/vector_bak"
)

var collectionNames = []string{"sql", "ddl", "documentation", "error_sql"}

// env is a project with legacy sets 0..n-1 in its vector_bak folder, a
// database with LangChain's tables, and a Service for them as the server
// builds it with --confirm=none.
type env struct {
	svc     *service.Service
	db      string
	backups string
	sets    []*sample.Dataset
}

// setTS is set i's timestamp.
func setTS(i int) string { return fmt.Sprintf("20250721_2200%02d", i) }

// newEnv makes n sets of distinct sizes (set i has 4×(3+i) embeddings), so
// a table's row count tells which set it holds.
func newEnv(t *testing.T, n int) *env {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: dim})
	e := &env{db: p.DB, backups: p.Backups}
	for i := range n {
		d := sample.Generate(uint64(100+i), collectionNames, 3+i, dim)
		p.Write(t, d, "vector_bak", setTS(i))
		e.sets = append(e.sets, d)
	}
	e.svc = &service.Service{Catalog: p.Catalog(t), Policy: dbaccess.NewPolicy(e.db, nil)}
	return e
}

// seeded is newEnv with set 0 restored into the tables, and a context
// that ends after timeout (or with the test).
func seeded(t *testing.T, n int, timeout time.Duration) (*env, context.Context) {
	t.Helper()
	e := newEnv(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	if _, err := e.restore(ctx, 0); err != nil {
		t.Fatalf("seed restore: %v", err)
	}
	return e, ctx
}

func (e *env) restore(ctx context.Context, i int) (*schemas.RestoreResult, error) {
	return e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(i), TruncateBeforeRestore: true}, service.RestoreOptions{})
}

// together runs fn(0..n-1) at once, released by one signal, and waits.
func together(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// csvColumn returns the values of column col of a CSV file COPY wrote.
func csvColumn(t *testing.T, path, col string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	i := slices.Index(recs[0], col)
	if i < 0 {
		t.Fatalf("%s has no column %s: %v", path, col, recs[0])
	}
	var out []string
	for _, r := range recs[1:] {
		out = append(out, r[i])
	}
	sort.Strings(out)
	return out
}

func ids(d *sample.Dataset) []string {
	var out []string
	for _, e := range d.Embeddings {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

// TestConcurrentRestores runs two, then eight, truncating restores of
// different sets into one database at once. They must all succeed one after
// the other (the advisory lock), each reporting the rows the previous one
// left, each snapshot holding exactly those rows, and the tables must end
// holding exactly the last committer's set.
func TestConcurrentRestores(t *testing.T) {
	for _, n := range []int{2, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, n+1)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Set 0 is the state before the race.
			if _, err := e.restore(ctx, 0); err != nil {
				t.Fatalf("seed restore: %v", err)
			}
			results := make([]*schemas.RestoreResult, n+1)
			errs := make([]error, n+1)
			together(n, func(i int) { results[i+1], errs[i+1] = e.restore(ctx, i+1) })
			for i := 1; i <= n; i++ {
				if errs[i] != nil {
					t.Fatalf("restore of set %d: %v", i, errs[i])
				}
			}

			// Rebuild the commit order: each restore truncated what the
			// previous committer left.
			order := []int{0}
			left := map[int]bool{}
			for i := 1; i <= n; i++ {
				left[i] = true
			}
			for len(left) > 0 {
				prev := order[len(order)-1]
				want := int64(len(e.sets[prev].Embeddings))
				next := -1
				for i := range left {
					if results[i].TruncateResults[layout.EmbeddingTable].RowsBefore == want {
						if next >= 0 {
							t.Fatalf("restores of sets %d and %d both report %d rows before: they overlapped", next, i, want)
						}
						next = i
					}
				}
				if next < 0 {
					var got []string
					for i := range left {
						got = append(got, fmt.Sprintf("set %d: rows_before %d", i, results[i].TruncateResults[layout.EmbeddingTable].RowsBefore))
					}
					t.Fatalf("no restore reports the %d rows set %d left (order so far %v; %s)", want, prev, order, strings.Join(got, ", "))
				}
				order = append(order, next)
				delete(left, next)
			}
			t.Logf("commit order: %v", order[1:])

			lastSnapshot := ""
			for k, i := range order[1:] {
				res, prev := results[i], e.sets[order[k]]
				tr := res.TruncateResults[layout.EmbeddingTable]
				if !tr.Success || tr.RowsAfter != 0 {
					t.Errorf("set %d: truncate result %+v", i, tr)
				}
				if got := res.TruncateResults[layout.CollectionTable].RowsBefore; got != int64(len(prev.Collections)) {
					t.Errorf("set %d: collection rows_before %d, want %d", i, got, len(prev.Collections))
				}
				for table, want := range map[string]int{layout.CollectionTable: len(e.sets[i].Collections), layout.EmbeddingTable: len(e.sets[i].Embeddings)} {
					if got := res.RestoreResults[table].RowsRestored; got != int64(want) {
						t.Errorf("set %d: %s rows_restored %d, want %d", i, table, got, want)
					}
				}
				// The snapshot holds exactly the rows this restore replaced.
				snap := res.Snapshot
				if snap == nil {
					t.Errorf("set %d: no snapshot", i)
					continue
				}
				if snap.Rows[layout.EmbeddingTable] != int64(len(prev.Embeddings)) {
					t.Errorf("set %d: snapshot of %d embeddings, the previous committer left %d", i, snap.Rows[layout.EmbeddingTable], len(prev.Embeddings))
				}
				// Read as the server reads it: snapshots are binary COPY.
				if got := setColumn(t, e.svc.Catalog, layout.GlobalDir, snap.Timestamp, layout.EmbeddingTable, "id"); !slices.Equal(got, ids(prev)) {
					t.Errorf("set %d: snapshot %s does not hold the previous committer's (set %d's) embeddings", i, snap.Timestamp, order[k])
				}
				// Snapshots are taken under the lock, so their timestamps
				// follow the commit order.
				if snap.Timestamp <= lastSnapshot {
					t.Errorf("set %d: snapshot %s not after the previous committer's %s", i, snap.Timestamp, lastSnapshot)
				}
				lastSnapshot = snap.Timestamp
			}
			pgtest.Compare(t, e.db, e.sets[order[len(order)-1]], sample.Default)
		})
	}
}

// restoreInto restores the set dir/ts into a fresh database and returns its
// dump.
func restoreInto(t *testing.T, cat *catalog.Catalog, dir, ts string) string {
	t.Helper()
	set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), ts)
	if err != nil {
		t.Fatalf("the created set is not complete: %v", err)
	}
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(dim))
	if _, err := restore.Run(context.Background(), pgtest.Connect(t, db), restore.Request{Set: set, Truncate: true}); err != nil {
		t.Fatalf("restore of the created set %s: %v", ts, err)
	}
	return pgtest.Dump(t, db)
}

// TestRestoreRacingCreate starts a restore and a backup of the same
// database at once, many times with varying head starts: both succeed, and
// the backup holds exactly the tables before or after the restore, never a
// mix.
func TestRestoreRacingCreate(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 2, 60*time.Second)
	seen := map[string]int{}
	for round := range 8 {
		from, to := round%2, (round+1)%2
		before := pgtest.Dump(t, e.db)
		var res *schemas.RestoreResult
		var created *schemas.CreateResult
		var rerr, cerr error
		delay := time.Duration(round/2) * 3 * time.Millisecond
		together(2, func(i int) {
			if i == 0 {
				res, rerr = e.restore(ctx, to)
				return
			}
			time.Sleep(delay)
			created, cerr = e.svc.Create(ctx, schemas.CreateArgs{})
		})
		if rerr != nil {
			t.Fatalf("round %d: restore: %v", round, rerr)
		}
		if cerr != nil {
			t.Fatalf("round %d: create: %v", round, cerr)
		}
		after := pgtest.Dump(t, e.db)
		if res.TruncateResults[layout.EmbeddingTable].RowsBefore != int64(len(e.sets[from].Embeddings)) {
			t.Errorf("round %d: rows_before %d, want %d", round, res.TruncateResults[layout.EmbeddingTable].RowsBefore, len(e.sets[from].Embeddings))
		}
		got := restoreInto(t, e.svc.Catalog, e.svc.Catalog.Name(e.svc.Catalog.GlobalDir()), created.Timestamp)
		rows := created.TablesBackedUp[layout.EmbeddingTable].RowCount
		switch got {
		case before:
			seen["before"]++
			if rows != int64(len(e.sets[from].Embeddings)) {
				t.Errorf("round %d: result says %d rows, the set holds set %d's %d", round, rows, from, len(e.sets[from].Embeddings))
			}
		case after:
			seen["after"]++
			if rows != int64(len(e.sets[to].Embeddings)) {
				t.Errorf("round %d: result says %d rows, the set holds set %d's %d", round, rows, to, len(e.sets[to].Embeddings))
			}
		default:
			t.Errorf("round %d: backup %s (result: %d embeddings) holds neither the tables before the restore (set %d, %d embeddings) nor after it (set %d, %d):\n%s",
				round, created.Timestamp, rows, from, len(e.sets[from].Embeddings), to, len(e.sets[to].Embeddings), firstDiff(got, before, after))
		}
	}
	t.Logf("backups taken before/after the restore: %v", seen)
}

// TestConcurrentCreates runs eight backups of one database at once, in the
// same second, eight times (into the global folder, then into task folders):
// eight distinct complete sets each time, each exactly the tables, none
// overwritten, no errors, and a folder log that describes one of them.
func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 1, 60*time.Second)
	for round := range 8 {
		task := ""
		if round > 0 {
			task = fmt.Sprintf("task_20250722_1015%02d", round)
			if err := os.MkdirAll(filepath.Join(e.backups, task), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(fmt.Sprintf("folder %q", task), func(t *testing.T) { concurrentCreates(t, ctx, e, task) })
	}
}

func concurrentCreates(t *testing.T, ctx context.Context, e *env, task string) {
	const n = 8
	results := make([]*schemas.CreateResult, n)
	errs := make([]error, n)
	together(n, func(i int) { results[i], errs[i] = e.svc.Create(ctx, schemas.CreateArgs{TaskID: task}) })

	dir := e.svc.Catalog.Name(e.svc.Catalog.GlobalDir())
	if task != "" {
		dir = filepath.Join(e.backups, task, "vector_bak")
	}
	var stamps []string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("create %d: %v", i, errs[i])
			continue
		}
		stamps = append(stamps, results[i].Timestamp)
	}
	slices.Sort(stamps)
	if len(slices.Compact(slices.Clone(stamps))) != len(stamps) {
		t.Errorf("timestamps repeat: %v", stamps)
	}
	scan, err := e.svc.Catalog.Scan(ctx, catalog.Filter{TaskID: task, GlobalOnly: task == ""})
	if err != nil {
		t.Fatal(err)
	}
	var complete []string
	logged := 0
	for _, loc := range scan.Locations {
		if e.svc.Catalog.Name(loc.Dir) != dir {
			continue
		}
		for _, s := range loc.Sets {
			complete = append(complete, s.Timestamp)
			if s.LogFile != "" {
				logged++
				if s.RowCounts[layout.EmbeddingTable] != int64(len(e.sets[0].Embeddings)) {
					t.Errorf("the folder log gives set %s row counts %v", s.Timestamp, s.RowCounts)
				}
			}
		}
		for _, inc := range loc.Incomplete {
			t.Errorf("incomplete set %s left: %s", inc.Timestamp, inc.Reason)
		}
	}
	slices.Sort(complete)
	if len(complete) != n {
		t.Errorf("%d complete sets %v, want %d (returned timestamps %v)", len(complete), complete, n, stamps)
	}
	if logged != 1 {
		b, _ := os.ReadFile(filepath.Join(dir, layout.LogName))
		t.Errorf("the folder log describes %d of the sets, want 1:\n%s", logged, b)
	}
	// Every set is whole and unchanged since written: its files match its
	// manifest, and all hold the same tables.
	want := map[string]string{}
	for _, ts := range complete {
		m, err := layout.ReadManifest(filepath.Join(dir, layout.ManifestName(layout.KindBackup, ts)))
		if err != nil {
			t.Errorf("set %s: %v", ts, err)
			continue
		}
		for table, f := range m.Files {
			b, err := os.ReadFile(filepath.Join(dir, f.File))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			got := hex.EncodeToString(sum[:])
			if got != f.SHA256 || int64(len(b)) != f.Bytes {
				t.Errorf("set %s: %s does not match its manifest (overwritten?)", ts, f.File)
			}
			if want[table] == "" {
				want[table] = got
			} else if want[table] != got {
				t.Errorf("set %s: %s differs from the other sets' though the tables did not change", ts, f.File)
			}
		}
	}
	for i, res := range results {
		if res == nil {
			continue
		}
		if !slices.Contains(complete, res.Timestamp) {
			t.Errorf("create %d reported set %s, which is not a complete set", i, res.Timestamp)
		}
		if len(res.Errors) > 0 {
			t.Errorf("create %d (set %s) reports errors: %q", i, res.Timestamp, res.Errors)
		}
		if got := res.TablesBackedUp[layout.EmbeddingTable].RowCount; got != int64(len(e.sets[0].Embeddings)) {
			t.Errorf("create %d: %d rows, want %d", i, got, len(e.sets[0].Embeddings))
		}
	}
}

// firstDiff describes the first line of got that is in neither want.
func firstDiff(got string, wants ...string) string {
	var out []string
	for _, want := range wants {
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				out = append(out, fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i]))
				break
			}
		}
		if len(g) != len(w) {
			out = append(out, fmt.Sprintf("%d lines, want %d", len(g), len(w)))
		}
	}
	return strings.Join(out, "\n")
}
