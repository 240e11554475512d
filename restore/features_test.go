package restore_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// featEnv is a fresh database with a layout's tables and a backup root
// (which is also the project root, so "./global_vector_bak" names the
// global folder).
type featEnv struct {
	p      *pgtest.Project
	db     string
	layout sample.Layout
	root   string
	cat    *catalog.Catalog
	global string // global_vector_bak, the key of the folder snapshots go to
}

func newFeatEnv(t *testing.T, l sample.Layout, dim int) *featEnv {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Layout: l, Dim: dim, BackupRoot: "."})
	return &featEnv{p: p, db: p.DB, layout: p.Layout, root: p.Root, cat: p.Catalog(t), global: layout.GlobalDir}
}

// legacy writes data as an old-pipeline set in <root>/<task>/vector_bak.
func (e *featEnv) legacy(t *testing.T, data *sample.Dataset, task string) catalog.Set {
	t.Helper()
	return e.p.Legacy(t, data, filepath.Join(task, "vector_bak"), ts)
}

// load makes the live tables hold exactly data, by restoring a legacy set.
func (e *featEnv) load(t *testing.T, data *sample.Dataset) {
	t.Helper()
	e.p.Seed(t, data, "seed/vector_bak", ts)
}

func (e *featEnv) find(t *testing.T, dir, timestamp string) catalog.Set {
	t.Helper()
	return e.p.Find(t, dir, timestamp)
}

// write creates a backup of the live tables (in the global folder unless
// req.Dir says otherwise) the way create_vector_backup does.
func (e *featEnv) write(t *testing.T, req backup.Request) *backup.Written {
	t.Helper()
	if req.Dir == "" {
		req.Dir = e.global
	}
	if req.Store == nil {
		req.Store = e.cat.Store
	}
	ctx := context.Background()
	conn := pgtest.Connect(t, e.db)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	w, err := backup.Write(ctx, tx, req)
	if err != nil {
		t.Fatalf("backup.Write: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func (e *featEnv) run(t *testing.T, req restore.Request) (*restore.Result, error) {
	t.Helper()
	return restore.Run(context.Background(), pgtest.Connect(t, e.db), req)
}

func (e *featEnv) mustRun(t *testing.T, req restore.Request) *restore.Result {
	t.Helper()
	res, err := e.run(t, req)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	return res
}

func (e *featEnv) plan(t *testing.T, req restore.Request) (*restore.Plan, *restore.Binding) {
	t.Helper()
	p, b, err := makePlan(t, e.db, req)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p, b
}

// makePlan plans req in db as the service does: in a read-only snapshot.
func makePlan(t *testing.T, db string, req restore.Request) (p *restore.Plan, b *restore.Binding, err error) {
	t.Helper()
	ctx := context.Background()
	err = restore.ReadOnly(ctx, pgtest.Connect(t, db), func(tx pgx.Tx) (err error) {
		p, b, err = restore.MakePlan(ctx, tx, req, true)
		return err
	})
	return p, b, err
}

func (e *featEnv) dump(t *testing.T) string { t.Helper(); return pgtest.Dump(t, e.db) }

// sets returns the complete and incomplete sets catalog.Scan lists in dir.
func (e *featEnv) sets(t *testing.T, dir string) ([]catalog.Set, []catalog.Incomplete) {
	t.Helper()
	s, err := e.cat.Scan(context.Background(), catalog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range s.Locations {
		if loc.Dir == dir {
			return loc.Sets, loc.Incomplete
		}
	}
	return nil, nil
}

// key is the embedding table's key column in the layout.
func (e *featEnv) key() string {
	if e.layout.Community {
		return "uuid"
	}
	return "id"
}

// insertEmbedding adds one live row to the named collection.
func (e *featEnv) insertEmbedding(t *testing.T, id, collection string, dim int) {
	t.Helper()
	vec := "[" + strings.TrimSuffix(strings.Repeat("0.5,", dim), ",") + "]"
	cols := "id"
	if e.layout.Community {
		cols = "uuid, custom_id"
	}
	args := []any{id, collection, vec}
	vals := "$1, "
	if e.layout.Community {
		vals = "$1::text::uuid, 'custom-' || $1, "
	}
	pgtest.Exec(t, e.db, fmt.Sprintf(`INSERT INTO langchain_pg_embedding (%s, collection_id, embedding, document, cmetadata)
		SELECT %s uuid, $3::text::vector, 'inserted live', '{"live": true}' FROM langchain_pg_collection WHERE name = $2`, cols, vals), args...)
}

// rowsOutside dumps the rows of every collection but name, and their
// embeddings, as text.
func (e *featEnv) rowsOutside(t *testing.T, name string) string {
	t.Helper()
	conn := pgtest.Connect(t, e.db)
	var coll, emb string
	err := conn.QueryRow(context.Background(), `SELECT
		(SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM langchain_pg_collection x WHERE name <> $1),
		(SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM langchain_pg_embedding x
		 WHERE collection_id IN (SELECT uuid FROM langchain_pg_collection WHERE name <> $1))`, name).Scan(&coll, &emb)
	if err != nil {
		t.Fatal(err)
	}
	if coll == "" || emb == "" {
		t.Fatalf("no rows outside %s to compare", name)
	}
	return coll + "\n--\n" + emb
}

func featWantErr(t *testing.T, err error, typ apierr.Type) *apierr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want a %s error", typ)
	}
	e, ok := apierr.As(err)
	if !ok || e.Type != typ {
		t.Fatalf("error %v (%T), want type %s", err, err, typ)
	}
	return e
}

// featCollection returns the dataset's collection named name.
func featCollection(t *testing.T, d *sample.Dataset, name string) sample.Collection {
	t.Helper()
	for _, c := range d.Collections {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no collection %s", name)
	return sample.Collection{}
}

// featMerge is live with the collection named name replaced by bak's
// (its row and embeddings). With keepLiveRow, the live collection row stays
// and bak's embeddings are moved to it.
func featMerge(t *testing.T, live, bak *sample.Dataset, name string, keepLiveRow bool) *sample.Dataset {
	t.Helper()
	lc, bc := featCollection(t, live, name), featCollection(t, bak, name)
	out := &sample.Dataset{Dim: live.Dim}
	for _, c := range live.Collections {
		if c.Name != name || keepLiveRow {
			out.Collections = append(out.Collections, c)
		}
	}
	if !keepLiveRow {
		out.Collections = append(out.Collections, bc)
	}
	for _, e := range live.Embeddings {
		if e.CollectionID != lc.UUID {
			out.Embeddings = append(out.Embeddings, e)
		}
	}
	for _, e := range bak.Embeddings {
		if e.CollectionID == bc.UUID {
			if keepLiveRow {
				e.CollectionID = lc.UUID
			}
			out.Embeddings = append(out.Embeddings, e)
		}
	}
	return out
}

// featRecords splits a CSV file into its records (header first), each with
// its line end, honouring quoted line breaks.
func featRecords(b []byte) [][]byte {
	var out [][]byte
	start, quoted := 0, false
	for i, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\n' && !quoted:
			out = append(out, b[start:i+1])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func featCSV(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	return recs[0], recs[1:]
}

// TestRoundTripCreatedSet backs up live data, changes it, and restores the
// backup: the tables are exactly as they were at backup time.
func TestRoundTripCreatedSet(t *testing.T) {
	for _, l := range sample.Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			e := newFeatEnv(t, l, 8)
			data := sample.Generate(61, names, 8, 8)
			e.load(t, data)
			w := e.write(t, backup.Request{})
			want := e.dump(t)

			ids := []string{data.Embeddings[0].ID, data.Embeddings[9].ID, data.Embeddings[17].ID}
			key := pgx.Identifier{e.key()}.Sanitize()
			pgtest.Exec(t, e.db, "DELETE FROM langchain_pg_embedding WHERE "+key+"::text = ANY($1)", ids)
			pgtest.Exec(t, e.db, `UPDATE langchain_pg_embedding SET cmetadata = '{"changed": true}', document = NULL WHERE `+key+"::text = $1", data.Embeddings[5].ID)
			pgtest.Exec(t, e.db, `UPDATE langchain_pg_embedding SET document = '' WHERE `+key+"::text = $1", data.Embeddings[3].ID)
			pgtest.Exec(t, e.db, `UPDATE langchain_pg_collection SET cmetadata = '{"v": 2}' WHERE name = 'ddl'`)
			pgtest.Exec(t, e.db, `INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES ('44444444-4444-4444-8444-444444444444', 'new', NULL)`)
			e.insertEmbedding(t, "55555555-5555-4555-8555-555555555555", "new", 8)
			e.insertEmbedding(t, "66666666-6666-4666-8666-666666666666", "sql", 8)
			if e.dump(t) == want {
				t.Fatal("the changes changed nothing")
			}

			set := e.find(t, e.global, w.Timestamp)
			res := e.mustRun(t, restore.Request{Set: set, Truncate: true})
			if got := e.dump(t); got != want {
				t.Errorf("tables differ from backup time:\n got %s\nwant %s", got, want)
			}
			for _, table := range layout.Tables() {
				r := res.RestoreResults[table]
				if r.RowsRestored != w.Manifest.Files[table].Rows || r.MetadataConverted != 0 || r.FileBytes != w.Manifest.Files[table].Bytes {
					t.Errorf("%s: %+v, manifest %+v", table, r, w.Manifest.Files[table])
				}
			}
			if got := res.TruncateResults[layout.EmbeddingTable].RowsBefore; got != int64(len(data.Embeddings)-len(ids)+2) {
				t.Errorf("rows_before %d", got)
			}
		})
	}
}

// TestSnapshotUndo restores over live data with a snapshot, then restores
// the snapshot with its undo arguments and gets the live data back.
func TestSnapshotUndo(t *testing.T) {
	for _, l := range []sample.Layout{sample.Default, sample.Layouts[6] /* community_no_fk */} {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			e := newFeatEnv(t, l, 8)
			b := sample.Generate(21, names, 12, 8)
			a := sample.Generate(22, names[:2], 9, 8)
			e.load(t, b)
			wantB := e.dump(t)
			setA := e.legacy(t, a, "task_a")

			res := e.mustRun(t, restore.Request{Set: setA, Truncate: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
			pgtest.Compare(t, e.db, a, l)
			snap := res.Snapshot
			if snap == nil {
				t.Fatal("no snapshot in the result")
			}
			if snap.Dir != e.global || !layout.ValidTimestamp(snap.Timestamp) {
				t.Errorf("snapshot %+v", snap)
			}
			wantRows := map[string]int64{layout.CollectionTable: int64(len(b.Collections)), layout.EmbeddingTable: int64(len(b.Embeddings))}
			if !maps.Equal(snap.Rows, wantRows) {
				t.Errorf("snapshot rows %v, want %v", snap.Rows, wantRows)
			}
			u := snap.Undo
			if !u.Truncate ||
				!slices.Equal(u.Tables, layout.Tables()) || len(u.Collections) != 0 {
				t.Errorf("undo %+v", u)
			}

			// Undo as a caller would: resolve the folder it was given.
			dir, err := e.cat.Resolve(context.Background(), e.cat.RelativePath(snap.Dir))
			if err != nil {
				t.Fatalf("resolve %s: %v", snap.Dir, err)
			}
			snapSet := e.find(t, dir, snap.Timestamp)
			if snapSet.ManifestFile == "" {
				t.Errorf("snapshot set has no manifest")
			}
			e.mustRun(t, restore.Request{Set: snapSet, Truncate: u.Truncate, Tables: u.Tables, Collections: u.Collections})
			if got := e.dump(t); got != wantB {
				t.Errorf("undo did not bring back the tables:\n got %s\nwant %s", got, wantB)
			}
		})
	}

	t.Run("failed restore leaves no snapshot", func(t *testing.T) {
		t.Parallel()
		e := newFeatEnv(t, sample.Default, 8)
		e.load(t, sample.Generate(23, names, 10, 8))
		setA := e.legacy(t, sample.Generate(24, names, 10, 8), "task_a")
		replaceInLastRows(t, setA.Path(layout.EmbeddingTable), "[", "[oops,")
		before := e.dump(t)

		_, err := e.run(t, restore.Request{Set: setA, Truncate: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
		featWantErr(t, err, apierr.BackupCorrupt)
		if e.dump(t) != before {
			t.Errorf("a failed restore changed the tables")
		}
		sets, incomplete := e.sets(t, e.global)
		if len(sets) != 0 || len(incomplete) != 0 {
			t.Errorf("snapshot folder lists %d sets and %d incomplete after a failed restore", len(sets), len(incomplete))
		}
		entries, _ := os.ReadDir(e.p.Path(e.global))
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), "langchain_pg_") || strings.HasPrefix(en.Name(), "vector_backup_manifest_") {
				t.Errorf("failed restore left %s", en.Name())
			}
		}
	})

	t.Run("failed restore keeps the folder's log", func(t *testing.T) {
		t.Parallel()
		e := newFeatEnv(t, sample.Default, 8)
		e.load(t, sample.Generate(25, names, 10, 8))
		prior := e.write(t, backup.Request{Now: time.Date(2025, 7, 1, 12, 0, 0, 0, time.Local)})
		setA := e.legacy(t, sample.Generate(26, names, 10, 8), "task_a")
		replaceInLastRows(t, setA.Path(layout.EmbeddingTable), "[", "[oops,")

		_, err := e.run(t, restore.Request{Set: setA, Truncate: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
		featWantErr(t, err, apierr.BackupCorrupt)
		sets, _ := e.sets(t, e.global)
		if len(sets) != 1 || sets[0].Timestamp != prior.Timestamp {
			t.Fatalf("global folder lists %+v, want only the earlier backup %s", sets, prior.Timestamp)
		}
		if sets[0].LogFile == "" || sets[0].RowCounts == nil {
			log, _ := os.ReadFile(filepath.Join(e.p.Path(e.global), layout.LogName))
			t.Logf("log after the failed restore:\n%s", log)
			t.Error("a failed restore's discarded snapshot leaves its vector_backup_log.txt behind, overwriting the log of the folder's real newest set (restore.go discardSnapshot → backup.Remove does not restore the log), so list loses that set's has_log/row_counts")
		}
	})
}

// TestCollectionsRestore replaces one collection and leaves the others
// byte for byte as they were.
func TestCollectionsRestore(t *testing.T) {
	live := sample.Generate(31, []string{"sql", "ddl", "documentation"}, 10, 8)
	bak := sample.Generate(32, []string{"sql", "ddl", "error_sql"}, 7, 8) // other uuids, other rows
	if featCollection(t, live, "sql").UUID == featCollection(t, bak, "sql").UUID {
		t.Fatal("the backup's sql collection must have another uuid")
	}
	setup := func(t *testing.T) (*featEnv, catalog.Set) {
		e := newFeatEnv(t, sample.Default, 8)
		e.load(t, live)
		return e, e.legacy(t, bak, "task_bak")
	}

	t.Run("replace sql", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		others := e.rowsOutside(t, "sql")
		res := e.mustRun(t, restore.Request{Set: set, Collections: []string{"sql"}})
		pgtest.Compare(t, e.db, featMerge(t, live, bak, "sql", false), e.layout)
		if got := e.rowsOutside(t, "sql"); got != others {
			t.Errorf("other collections changed:\n got %s\nwant %s", got, others)
		}
		if res.RestoreResults[layout.CollectionTable].RowsRestored != 1 || res.RestoreResults[layout.EmbeddingTable].RowsRestored != 7 {
			t.Errorf("restore results %+v", res.RestoreResults)
		}
		if !slices.Equal(res.Collections, []string{"sql"}) || res.TruncatePerformed {
			t.Errorf("result collections %v, truncate_performed %v", res.Collections, res.TruncatePerformed)
		}
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		before := e.dump(t)
		tests := []struct {
			req  restore.Request
			want apierr.Type
		}{
			{restore.Request{Set: set, Collections: []string{"nope"}}, apierr.ResourceNotFound},
			{restore.Request{Set: set, Collections: []string{"sql", "nope"}}, apierr.ResourceNotFound},
			{restore.Request{Set: set, Collections: []string{"sql"}, Truncate: true}, apierr.InvalidParams},
			{restore.Request{Set: set, Collections: []string{"sql"}, Tables: []string{layout.CollectionTable}}, apierr.InvalidParams},
			// documentation exists live but not in the backup
			{restore.Request{Set: set, Collections: []string{"documentation"}}, apierr.ResourceNotFound},
		}
		for _, tt := range tests {
			_, err := e.run(t, tt.req)
			ae := featWantErr(t, err, tt.want)
			if ae.Details["param"] != "collections" && ae.Details["param"] != "tables" {
				t.Errorf("%+v: details %v do not name the argument", tt.req.Collections, ae.Details)
			}
		}
		if e.dump(t) != before {
			t.Errorf("a refused restore changed the tables")
		}
	})

	t.Run("embeddings only are remapped", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		res := e.mustRun(t, restore.Request{Set: set, Collections: []string{"sql"}, Tables: []string{layout.EmbeddingTable}})
		pgtest.Compare(t, e.db, featMerge(t, live, bak, "sql", true), e.layout)
		if _, ok := res.RestoreResults[layout.CollectionTable]; ok {
			t.Errorf("restored the collection table: %+v", res.RestoreResults)
		}
		// A collection the target lacks has nothing to attach to.
		before := e.dump(t)
		_, err := e.run(t, restore.Request{Set: set, Collections: []string{"error_sql"}, Tables: []string{layout.EmbeddingTable}})
		featWantErr(t, err, apierr.ResourceNotFound)
		if e.dump(t) != before {
			t.Errorf("a refused restore changed the tables")
		}
	})

	t.Run("snapshot holds only the collection and undoes", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		before := e.dump(t)
		res := e.mustRun(t, restore.Request{Set: set, Collections: []string{"sql"}, SnapshotDir: e.global, BackupRoot: e.cat.Store})
		snap := res.Snapshot
		if snap == nil {
			t.Fatal("no snapshot")
		}
		want := map[string]int64{layout.CollectionTable: 1, layout.EmbeddingTable: 10}
		if !maps.Equal(snap.Rows, want) {
			t.Errorf("snapshot rows %v, want %v", snap.Rows, want)
		}
		snapSet := e.find(t, e.global, snap.Timestamp)
		lc := featCollection(t, live, "sql")
		// The snapshot is binary COPY: read as the server reads it.
		_, rows := pgtest.SetRows(t, snapSet, layout.CollectionTable)
		if len(rows) != 1 || rows[0][0] != lc.UUID || rows[0][1] != "sql" {
			t.Errorf("snapshot collection file holds %v, want the live sql row", rows)
		}
		header, rows := pgtest.SetRows(t, snapSet, layout.EmbeddingTable)
		col := slices.Index(header, "collection_id")
		for _, r := range rows {
			if r[col] != lc.UUID {
				t.Errorf("snapshot holds an embedding of collection %s", r[col])
			}
		}
		u := snap.Undo
		if !slices.Equal(u.Collections, []string{"sql"}) || u.Truncate {
			t.Errorf("undo %+v", u)
		}
		e.mustRun(t, restore.Request{Set: snapSet, Collections: u.Collections, Tables: u.Tables, Truncate: u.Truncate})
		if got := e.dump(t); got != before {
			t.Errorf("undo did not bring back the sql rows:\n got %s\nwant %s", got, before)
		}
	})

	t.Run("snapshot of a collection the target lacks", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		res := e.mustRun(t, restore.Request{Set: set, Collections: []string{"error_sql"}, SnapshotDir: e.global, BackupRoot: e.cat.Store})
		if res.Snapshot == nil {
			return // nothing replaced, nothing saved: fine too
		}
		// Not a snapshot of every collection: backup.Write treats no
		// collections as all of them.
		for table, n := range res.Snapshot.Rows {
			if n != 0 {
				t.Errorf("snapshot of a collection the target lacks holds %d rows of %s; undo %+v", n, table, res.Snapshot.Undo)
			}
		}
	})

	t.Run("same uuid from a created backup", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		w := e.write(t, backup.Request{})
		want := e.dump(t)
		lc := featCollection(t, live, "sql")
		pgtest.Exec(t, e.db, "DELETE FROM langchain_pg_embedding WHERE id = $1", live.Embeddings[1].ID)
		pgtest.Exec(t, e.db, `UPDATE langchain_pg_embedding SET document = 'changed' WHERE id = $1`, live.Embeddings[2].ID)
		pgtest.Exec(t, e.db, `UPDATE langchain_pg_collection SET cmetadata = '{"changed": 1}' WHERE uuid = $1`, lc.UUID)
		e.insertEmbedding(t, "12121212-1212-4212-8212-121212121212", "sql", 8)
		others := e.rowsOutside(t, "sql")
		res := e.mustRun(t, restore.Request{Set: e.find(t, e.global, w.Timestamp), Collections: []string{"sql"}})
		if got := e.dump(t); got != want {
			t.Errorf("sql not as backed up:\n got %s\nwant %s", got, want)
		}
		if e.rowsOutside(t, "sql") != others {
			t.Errorf("other collections changed")
		}
		if got := res.RestoreResults[layout.EmbeddingTable].RowsRestored; got != 10 {
			t.Errorf("rows_restored %d, want 10", got)
		}
	})

	t.Run("truncate restore of a per-collection snapshot", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		res := e.mustRun(t, restore.Request{Set: set, Collections: []string{"sql"}, SnapshotDir: e.global, BackupRoot: e.cat.Store})
		// The snapshot is the newest global set: what "roll back to the
		// latest global backup" picks.
		latest := e.find(t, e.global, "latest")
		if latest.Timestamp != res.Snapshot.Timestamp {
			t.Fatalf("latest global set %s, snapshot %s", latest.Timestamp, res.Snapshot.Timestamp)
		}
		countOthers := func() int64 {
			var n int64
			err := pgtest.Connect(t, e.db).QueryRow(context.Background(),
				"SELECT count(*) FROM langchain_pg_embedding WHERE collection_id IN (SELECT uuid FROM langchain_pg_collection WHERE name <> 'sql')").Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		othersBefore := countOthers()
		before := e.dump(t)
		_, err := e.run(t, restore.Request{Set: latest, Truncate: true})
		if err != nil {
			featWantErr(t, err, apierr.InvalidParams) // refusing is fine
			if e.dump(t) != before {
				t.Errorf("a refused restore changed the tables")
			}
			return
		}
		if got := countOthers(); got != othersBefore {
			t.Logf("embeddings of other collections: %d before, %d after", othersBefore, got)
			t.Error("a set that holds only some collections (manifest collections=[sql], e.g. a per-collection snapshot) restored with truncate_before_restore empties both tables and brings back only those collections, deleting every other collection; restore.go newRun ignores manifest.Collections (it honours manifest.Tables)")
		}
	})
}

// conflictData is live data and a set whose rows partly exist in it: the
// same collections, five embeddings with other values and four new ones.
func conflictData() (live, set *sample.Dataset, overlap, fresh []sample.Embedding) {
	live = sample.Generate(41, names[:3], 10, 8)
	set = &sample.Dataset{Dim: 8, Collections: live.Collections}
	for i := 0; i < 5; i++ {
		e := live.Embeddings[i*6]
		doc := fmt.Sprintf("updated by the backup #%d, \"quoted\"", i)
		e.Document = &doc
		e.Metadata = sample.Dict{{Key: "updated", Value: true}, {Key: "n", Value: i}}
		e.Vector = slices.Clone(e.Vector)
		e.Vector[0] = 0.125
		overlap = append(overlap, e)
	}
	for i, e := range sample.Generate(42, names[:1], 4, 8).Embeddings {
		e.CollectionID = live.Collections[i%3].UUID
		fresh = append(fresh, e)
	}
	set.Embeddings = append(slices.Clone(overlap), fresh...)
	return live, set, overlap, fresh
}

// replaceEmbeddings returns d's embeddings with those of the same ID in
// with replaced, followed by add.
func replaceEmbeddings(d *sample.Dataset, with, add []sample.Embedding) *sample.Dataset {
	out := &sample.Dataset{Dim: d.Dim, Collections: d.Collections}
	for _, e := range d.Embeddings {
		for _, w := range with {
			if w.ID == e.ID {
				e = w
			}
		}
		out.Embeddings = append(out.Embeddings, e)
	}
	out.Embeddings = append(out.Embeddings, add...)
	return out
}

// TestOnConflict appends a set whose rows partly exist, with each policy.
func TestOnConflict(t *testing.T) {
	layouts := []sample.Layout{sample.Default, sample.Layouts[1], sample.Layouts[2], sample.Layouts[5], sample.Layouts[6]}
	for _, l := range layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			live, data, overlap, fresh := conflictData()
			e := newFeatEnv(t, l, 8)
			e.load(t, live)
			set := e.legacy(t, data, "task_append")
			before := e.dump(t)

			// The plan counts the rows whose key exists.
			p, _ := e.plan(t, restore.Request{Set: set, OnConflict: restore.OnConflictSkip})
			wantConflicts := map[string]int64{layout.CollectionTable: 3, layout.EmbeddingTable: int64(len(overlap))}
			if p.Mode != "append" || !maps.Equal(p.Conflicts, wantConflicts) {
				t.Errorf("plan mode %s conflicts %v, want append %v", p.Mode, p.Conflicts, wantConflicts)
			}

			// error: the first duplicate key fails the restore.
			for _, tables := range [][]string{nil, {layout.EmbeddingTable}} {
				_, err := e.run(t, restore.Request{Set: set, Tables: tables})
				ae := featWantErr(t, err, apierr.Conflict)
				detail, _ := ae.Details["detail"].(string)
				if !strings.Contains(ae.Message, "already exists") || !strings.Contains(detail, "already exists") || !strings.Contains(detail, "Key (") {
					t.Errorf("tables %v: message %q, detail %q: want the key that already exists", tables, ae.Message, detail)
				}
				var keys []string
				if tables == nil {
					for _, c := range live.Collections {
						keys = append(keys, c.UUID)
					}
				} else {
					for _, o := range overlap {
						keys = append(keys, o.ID)
					}
				}
				if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(detail, k) }) {
					t.Errorf("tables %v: detail %q names none of the overlapping keys", tables, detail)
				}
				if e.dump(t) != before {
					t.Fatalf("on_conflict=error changed the tables")
				}
			}

			// skip: live rows win, new rows go in. Nothing is replaced, so
			// no snapshot is taken.
			res := e.mustRun(t, restore.Request{Set: set, OnConflict: restore.OnConflictSkip, SnapshotDir: e.global, BackupRoot: e.cat.Store})
			pgtest.Compare(t, e.db, replaceEmbeddings(live, nil, fresh), l)
			coll, emb := res.RestoreResults[layout.CollectionTable], res.RestoreResults[layout.EmbeddingTable]
			if coll.RowsRestored != 0 || coll.RowsSkipped != 3 || emb.RowsRestored != int64(len(fresh)) || emb.RowsSkipped != int64(len(overlap)) {
				t.Errorf("skip: collections %d restored %d skipped, embeddings %d restored %d skipped; want 0/3, %d/%d",
					coll.RowsRestored, coll.RowsSkipped, emb.RowsRestored, emb.RowsSkipped, len(fresh), len(overlap))
			}
			if res.Snapshot != nil {
				t.Errorf("skip took a snapshot: %+v", res.Snapshot)
			}

			// update: the backup's rows win. Start again from live.
			e.load(t, live)
			res = e.mustRun(t, restore.Request{Set: set, OnConflict: restore.OnConflictUpdate, SnapshotDir: e.global, BackupRoot: e.cat.Store})
			pgtest.Compare(t, e.db, replaceEmbeddings(live, overlap, fresh), l)
			coll, emb = res.RestoreResults[layout.CollectionTable], res.RestoreResults[layout.EmbeddingTable]
			if coll.RowsRestored != 3 || coll.RowsSkipped != 0 || emb.RowsRestored != int64(len(overlap)+len(fresh)) || emb.RowsSkipped != 0 {
				t.Errorf("update: collections %d restored %d skipped, embeddings %d restored %d skipped; want 3/0, %d/0",
					coll.RowsRestored, coll.RowsSkipped, emb.RowsRestored, emb.RowsSkipped, len(overlap)+len(fresh))
			}
			// update overwrites rows, so it saved them first; undoing
			// brings back live.
			if res.Snapshot == nil {
				t.Fatal("update took no snapshot")
			}
			u := res.Snapshot.Undo
			e.mustRun(t, restore.Request{Set: e.find(t, e.global, res.Snapshot.Timestamp), Truncate: u.Truncate, Tables: u.Tables, Collections: u.Collections})
			if e.dump(t) != before {
				t.Errorf("undoing the update did not bring back the tables")
			}
		})
	}
}

// TestDryRun plans and validates without writing anything.
func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newFeatEnv(t, sample.Default, 8)
	live := sample.Generate(71, names, 9, 8)
	e.load(t, live)
	other := sample.Generate(72, names[:2], 5, 8)
	set := e.legacy(t, other, "task_other")
	before := e.dump(t)

	res := e.mustRun(t, restore.Request{Set: set, Truncate: true, DryRun: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
	if !res.DryRun || res.RestorePerformed || res.TruncatePerformed {
		t.Errorf("dry_run %v, restore_performed %v, truncate_performed %v", res.DryRun, res.RestorePerformed, res.TruncatePerformed)
	}
	wantBefore := map[string]int{layout.CollectionTable: len(live.Collections), layout.EmbeddingTable: len(live.Embeddings)}
	wantRows := map[string]int{layout.CollectionTable: len(other.Collections), layout.EmbeddingTable: len(other.Embeddings)}
	for _, table := range layout.Tables() {
		if got := res.TruncateResults[table].RowsBefore; got != int64(wantBefore[table]) {
			t.Errorf("%s rows_before %d, want %d", table, got, wantBefore[table])
		}
		if got := res.RestoreResults[table].RowsRestored; got != int64(wantRows[table]) {
			t.Errorf("%s rows_restored %d, want %d", table, got, wantRows[table])
		}
	}
	if res.Snapshot != nil {
		t.Errorf("dry run reports a snapshot: %+v", res.Snapshot)
	}
	if entries, _ := os.ReadDir(e.p.Path(e.global)); len(entries) != 0 {
		t.Errorf("dry run wrote into the snapshot folder: %v", entries)
	}
	if e.dump(t) != before {
		t.Errorf("dry run changed the tables")
	}

	// Per collection and append dry runs count the same way.
	res = e.mustRun(t, restore.Request{Set: set, Collections: []string{"ddl"}, DryRun: true})
	if res.RestoreResults[layout.EmbeddingTable].RowsRestored != 5 || res.RestoreResults[layout.CollectionTable].RowsRestored != 1 || res.RestorePerformed {
		t.Errorf("collections dry run: %+v", res.RestoreResults)
	}
	if e.dump(t) != before {
		t.Errorf("collections dry run changed the tables")
	}

	replaceInLastRows(t, set.Path(layout.EmbeddingTable), "[", "[oops,")
	_, err := e.run(t, restore.Request{Set: set, Truncate: true, DryRun: true})
	featWantErr(t, err, apierr.BackupCorrupt)
	if e.dump(t) != before {
		t.Errorf("failed dry run changed the tables")
	}
}

// TestManifestVerification spoils a created set's embedding file in ways a
// CSV parser cannot see; the manifest catches each.
func TestManifestVerification(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, b []byte) []byte
		check []string // the failed check is one of these
	}{
		{
			name: "one byte of a document",
			spoil: func(t *testing.T, b []byte) []byte {
				i := bytes.Index(b, []byte("FROM orders"))
				if i < 0 {
					t.Fatal("no document to change")
				}
				out := slices.Clone(b)
				out[i+5] = 'x' // "FROM xrders": same size, same rows
				return out
			},
			check: []string{"SHA-256"},
		},
		{
			name: "a row removed",
			spoil: func(t *testing.T, b []byte) []byte {
				recs := featRecords(b)
				return bytes.Join(slices.Delete(recs, len(recs)-3, len(recs)-2), nil)
			},
			check: []string{"row count", "size"},
		},
		{
			name: "a row appended",
			spoil: func(t *testing.T, b []byte) []byte {
				row := featRecords(b)[1]
				fresh := append([]byte("ffffffff-ffff-4fff-8fff-ffffffffffff"), row[bytes.IndexByte(row, ','):]...)
				return append(slices.Clone(b), fresh...)
			},
			check: []string{"row count", "size"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFeatEnv(t, sample.Default, 8)
			data := sample.Generate(81, names, 8, 8)
			e.load(t, data)
			w := e.write(t, backup.Request{})
			// Change the live rows so that a restore would show.
			pgtest.Exec(t, e.db, "DELETE FROM langchain_pg_embedding WHERE id = $1", data.Embeddings[2].ID)
			before := e.dump(t)

			set := e.find(t, e.global, w.Timestamp)
			b, err := os.ReadFile(set.Path(layout.EmbeddingTable))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(set.Path(layout.EmbeddingTable), tt.spoil(t, b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = e.run(t, restore.Request{Set: set, Truncate: true})
			ae := featWantErr(t, err, apierr.BackupCorrupt)
			check, _ := ae.Details["check"].(string)
			if !slices.Contains(tt.check, check) || !strings.Contains(ae.Message, check) {
				t.Errorf("message %q, check %q: want one of %v", ae.Message, check, tt.check)
			}
			if ae.Details["file"] != set.File(layout.EmbeddingTable) {
				t.Errorf("details %v do not name %s", ae.Details, set.File(layout.EmbeddingTable))
			}
			if e.dump(t) != before {
				t.Errorf("a refused restore changed the tables")
			}
			// A plan reads every row too, and refuses the same way.
			_, _, err = makePlan(t, e.db, restore.Request{Set: set, Truncate: true})
			featWantErr(t, err, apierr.BackupCorrupt)
		})
	}
}

// TestPlanAndBinding checks the plan's counts and that a confirmed plan runs
// only in the world it was made for.
func TestPlanAndBinding(t *testing.T) {
	live := sample.Generate(51, []string{"sql", "ddl", "documentation"}, 10, 8)
	bak := sample.Generate(52, []string{"sql", "ddl", "error_sql"}, 6, 8)
	setup := func(t *testing.T) (*featEnv, catalog.Set) {
		e := newFeatEnv(t, sample.Default, 8)
		e.load(t, live)
		return e, e.legacy(t, bak, "task_plan")
	}

	t.Run("counts", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		before := e.dump(t)
		tests := []struct {
			name        string
			req         restore.Request
			mode        string
			del, ins    map[string]int64
			collections []restore.CollectionPlan
			snapshot    bool
		}{
			{
				name: "truncate",
				req:  restore.Request{Set: set, Truncate: true, SnapshotDir: e.global, BackupRoot: e.cat.Store},
				mode: "truncate",
				del:  map[string]int64{layout.CollectionTable: 3, layout.EmbeddingTable: 30},
				ins:  map[string]int64{layout.CollectionTable: 3, layout.EmbeddingTable: 18},
				collections: []restore.CollectionPlan{
					{Name: "ddl", DeleteEmbeddings: 10, InsertEmbeddings: 6},
					{Name: "documentation", DeleteEmbeddings: 10},
					{Name: "error_sql", InsertEmbeddings: 6},
					{Name: "sql", DeleteEmbeddings: 10, InsertEmbeddings: 6},
				},
				snapshot: true,
			},
			{
				name:        "collections",
				req:         restore.Request{Set: set, Collections: []string{"sql"}, SnapshotDir: e.global, BackupRoot: e.cat.Store},
				mode:        "collections",
				del:         map[string]int64{layout.CollectionTable: 1, layout.EmbeddingTable: 10},
				ins:         map[string]int64{layout.CollectionTable: 1, layout.EmbeddingTable: 6},
				collections: []restore.CollectionPlan{{Name: "sql", DeleteEmbeddings: 10, InsertEmbeddings: 6}},
				snapshot:    true,
			},
			{
				name: "append",
				req:  restore.Request{Set: set, SnapshotDir: e.global, BackupRoot: e.cat.Store},
				mode: "append",
				del:  map[string]int64{layout.CollectionTable: 0, layout.EmbeddingTable: 0},
				ins:  map[string]int64{layout.CollectionTable: 3, layout.EmbeddingTable: 18},
				collections: []restore.CollectionPlan{
					{Name: "ddl", InsertEmbeddings: 6},
					{Name: "error_sql", InsertEmbeddings: 6},
					{Name: "sql", InsertEmbeddings: 6},
				},
			},
		}
		for _, tt := range tests {
			p, b := e.plan(t, tt.req)
			if p.Mode != tt.mode || !maps.Equal(p.Delete, tt.del) || !maps.Equal(p.Insert, tt.ins) || p.Snapshot != tt.snapshot {
				t.Errorf("%s: plan mode %s delete %v insert %v snapshot %v; want %s %v %v %v", tt.name, p.Mode, p.Delete, p.Insert, p.Snapshot, tt.mode, tt.del, tt.ins, tt.snapshot)
			}
			if !slices.Equal(p.Collections, tt.collections) {
				t.Errorf("%s: collections %+v, want %+v", tt.name, p.Collections, tt.collections)
			}
			if tt.mode == "append" && !maps.Equal(p.Conflicts, map[string]int64{layout.CollectionTable: 0, layout.EmbeddingTable: 0}) {
				t.Errorf("append: conflicts %v, want none", p.Conflicts)
			}
			if len(b.Files) != 2 || b.Files[layout.EmbeddingTable] == "" {
				t.Errorf("%s: binding files %v", tt.name, b.Files)
			}
		}
		if e.dump(t) != before {
			t.Errorf("Plan changed the tables")
		}
	})

	t.Run("state changed between plan and run", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		req := restore.Request{Set: set, Truncate: true}
		_, b1 := e.plan(t, req)
		_, again := e.plan(t, req)
		if again.State != b1.State {
			t.Errorf("the same world gives two states: %q, %q", b1.State, again.State)
		}
		e.insertEmbedding(t, "77777777-7777-4777-8777-777777777777", "documentation", 8)
		p2, b2 := e.plan(t, req)
		if b2.State == b1.State {
			t.Errorf("binding state did not change when a live row was inserted")
		}
		if !maps.Equal(b1.Files, b2.Files) {
			t.Errorf("file sums changed: %v, %v", b1.Files, b2.Files)
		}
		if p2.Delete[layout.EmbeddingTable] != 31 {
			t.Errorf("plan deletes %d embeddings, want 31", p2.Delete[layout.EmbeddingTable])
		}

		before := e.dump(t)
		req.Expect = b1
		_, err := e.run(t, req)
		ae := featWantErr(t, err, apierr.Conflict)
		if ae.Details["reason"] != "state_changed" {
			t.Errorf("details %v, want reason state_changed", ae.Details)
		}
		if e.dump(t) != before {
			t.Errorf("a refused restore changed the tables")
		}

		req.Expect = b2
		e.mustRun(t, req)
		pgtest.Compare(t, e.db, bak, e.layout)
	})

	t.Run("collections state ignores other collections", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		req := restore.Request{Set: set, Collections: []string{"sql"}}
		_, b := e.plan(t, req)
		e.insertEmbedding(t, "88888888-8888-4888-8888-888888888888", "ddl", 8)
		if _, b2 := e.plan(t, req); b2.State != b.State {
			t.Errorf("a row outside the collection changed the binding")
		}
		req.Expect = b
		e.mustRun(t, req)

		// A row inside it does.
		req.Expect = nil
		_, b = e.plan(t, req)
		req.Expect = b
		e.insertEmbedding(t, "99999999-9999-4999-8999-999999999999", "sql", 8)
		before := e.dump(t)
		_, err := e.run(t, req)
		featWantErr(t, err, apierr.Conflict)
		if e.dump(t) != before {
			t.Errorf("a refused restore changed the tables")
		}
	})

	t.Run("file differs from the confirmed plan", func(t *testing.T) {
		t.Parallel()
		e, set := setup(t)
		req := restore.Request{Set: set, Truncate: true}
		_, b := e.plan(t, req)
		before := e.dump(t)
		req.Expect = &restore.Binding{State: b.State, Files: map[string]string{
			layout.CollectionTable: b.Files[layout.CollectionTable],
			layout.EmbeddingTable:  strings.Repeat("0", 64),
		}}
		_, err := e.run(t, req)
		ae := featWantErr(t, err, apierr.BackupCorrupt)
		if ae.Details["check"] != "SHA-256" || ae.Details["file"] != set.File(layout.EmbeddingTable) {
			t.Errorf("details %v", ae.Details)
		}
		if e.dump(t) != before {
			t.Errorf("a refused restore changed the tables")
		}
	})
}

// TestLatest picks the newest complete set, never a half-written one.
func TestLatest(t *testing.T) {
	t.Parallel()
	e := newFeatEnv(t, sample.Default, 8)
	e.load(t, sample.Generate(91, names, 3, 8))
	t1 := time.Date(2025, 7, 22, 9, 0, 0, 0, time.Local)
	w1 := e.write(t, backup.Request{Now: t1})
	w2 := e.write(t, backup.Request{Now: t1.Add(time.Hour)})
	if got := e.find(t, e.global, "latest"); got.Timestamp != w2.Timestamp {
		t.Fatalf("latest is %s, want %s (older %s)", got.Timestamp, w2.Timestamp, w1.Timestamp)
	}

	// A newer set whose backup did not finish: both CSVs there, but a
	// .tmp leftover. And a newer one still with a file missing.
	ts3, ts4 := "20250722_120000", "20250722_130000"
	for _, table := range layout.Tables() {
		src := filepath.Join(e.p.Path(e.global), w2.Manifest.Files[table].File)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.p.Path(e.global), table+"_"+ts3+".csv"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(e.p.Path(e.global), "langchain_pg_embedding_"+ts3+".csv.tmp")
	if err := os.WriteFile(tmp, []byte("id,"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.p.Path(e.global), "langchain_pg_collection_"+ts4+".csv"), []byte("uuid,name,cmetadata\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := e.find(t, e.global, "latest"); got.Timestamp != w2.Timestamp {
		t.Errorf("latest is %s, want %s: sets with .tmp leftovers or a missing file are not complete", got.Timestamp, w2.Timestamp)
	}
	if _, err := e.cat.FindSet(context.Background(), e.global, ts3); err == nil {
		t.Errorf("FindSet returned the half-written set %s", ts3)
	}

	// Once the leftover is gone the set is complete, and newest.
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	set := e.find(t, e.global, "latest")
	if set.Timestamp != ts3 {
		t.Fatalf("latest is %s, want %s", set.Timestamp, ts3)
	}
	before := e.dump(t)
	e.mustRun(t, restore.Request{Set: set, Truncate: true})
	if e.dump(t) != before {
		t.Errorf("restoring a copy of the live tables changed them")
	}
}
