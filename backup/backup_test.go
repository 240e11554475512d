package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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

const tsLayout = "20060102_150405"

var collectionNames = []string{"sql", "ddl", "documentation", "error_sql"}

// now is the fixed clock the tests write backups with: 20250722_101500.
var now = time.Date(2025, 7, 22, 10, 15, 0, 0, time.Local)

// tempRoot is a backup root with its symlinks resolved, so that paths the
// catalog returns compare equal to the ones the test builds.
func tempRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// seeded returns a fresh database with layout l's tables holding data,
// loaded the way users do: by restoring a legacy backup set.
func seeded(t *testing.T, l sample.Layout, data *sample.Dataset) string {
	t.Helper()
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, l.DDL(data.Dim))
	root := tempRoot(t)
	pgtest.Seed(t, db, pgtest.LegacySet(t, root, filepath.Join(root, "vector_bak"), "20250721_215758", data, l))
	return db
}

// write runs backup.Write in a REPEATABLE READ transaction, as the server
// does, and commits.
func write(t *testing.T, db string, req backup.Request) (*backup.Written, error) {
	t.Helper()
	return writeOn(context.Background(), pgtest.Connect(t, db), req)
}

func writeOn(ctx context.Context, conn *pgx.Conn, req backup.Request) (*backup.Written, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	w, err := backup.Write(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	return w, tx.Commit(ctx)
}

func mustWrite(t *testing.T, db string, req backup.Request) *backup.Written {
	t.Helper()
	w, err := write(t, db, req)
	if err != nil {
		t.Fatalf("backup.Write: %v", err)
	}
	return w
}

func findSet(t *testing.T, root, dir, ts string) catalog.Set {
	t.Helper()
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), ts)
	if err != nil {
		t.Fatalf("FindSet(%s, %s): %v", dir, ts, err)
	}
	return set
}

// scanned returns the complete and incomplete sets catalog.Scan lists in
// dir (none when the folder is not a location).
func scanned(t *testing.T, root, dir string) ([]catalog.Set, []catalog.Incomplete) {
	t.Helper()
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cat.Scan(context.Background(), catalog.Filter{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	for _, loc := range s.Locations {
		if filepath.Join(cat.BackupRoot, loc.Dir) == dir {
			return loc.Sets, loc.Incomplete
		}
	}
	return nil, nil
}

// readCSV parses a file COPY wrote (RFC 4180, LF ends) with encoding/csv.
func readCSV(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s has no header", path)
	}
	return recs[0], recs[1:]
}

func sha(t *testing.T, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func wantAPIError(t *testing.T, err error, typ apierr.Type) *apierr.Error {
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

// TestWriteSet writes a set from every layout's live tables and checks the
// files, the manifest, the log and how the catalog lists the set.
func TestWriteSet(t *testing.T) {
	for _, l := range sample.Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			data := sample.Generate(7, collectionNames, 12, 8)
			db := seeded(t, l, data)
			root := tempRoot(t)
			dir := filepath.Join(root, "global_vector_bak") // created by Write
			w := mustWrite(t, db, backup.Request{Dir: dir, Now: now, Database: "127.0.0.1:55432/test"})

			ts := now.Format(tsLayout)
			if w.Timestamp != ts {
				t.Fatalf("timestamp %s, want %s", w.Timestamp, ts)
			}
			collFile := "langchain_pg_collection_" + ts + ".csv"
			embFile := "langchain_pg_embedding_" + ts + ".csv"
			manifestFile := "vector_backup_manifest_" + ts + ".json"
			wantFiles := []string{collFile, embFile, layout.LogName, manifestFile}
			slices.Sort(wantFiles)
			if got := dirNames(t, dir); !slices.Equal(got, wantFiles) {
				t.Errorf("folder holds %v, want %v (no .tmp left)", got, wantFiles)
			}

			// The CSVs: header of the table's columns in table order, one
			// row per live row.
			wantRows := map[string]int{layout.CollectionTable: len(data.Collections), layout.EmbeddingTable: len(data.Embeddings)}
			wantCols := map[string][]string{layout.CollectionTable: l.CollectionColumns(), layout.EmbeddingTable: l.EmbeddingColumns()}
			fileOf := map[string]string{layout.CollectionTable: collFile, layout.EmbeddingTable: embFile}
			for table, file := range fileOf {
				header, rows := readCSV(t, filepath.Join(dir, file))
				if !slices.Equal(header, wantCols[table]) {
					t.Errorf("%s header %v, want %v", file, header, wantCols[table])
				}
				if len(rows) != wantRows[table] {
					t.Errorf("%s has %d rows, want %d", file, len(rows), wantRows[table])
				}
			}

			// The manifest, read as plain JSON so field names are checked.
			raw, err := os.ReadFile(filepath.Join(dir, manifestFile))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				FormatVersion *int     `json:"format_version"`
				Timestamp     string   `json:"timestamp"`
				Database      string   `json:"database"`
				Tables        []string `json:"tables"`
				Files         map[string]struct {
					File    string   `json:"file"`
					Rows    *int64   `json:"rows"`
					Bytes   *int64   `json:"bytes"`
					SHA256  string   `json:"sha256"`
					Columns []string `json:"columns"`
				} `json:"files"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("manifest is not JSON: %v", err)
			}
			if m.FormatVersion == nil || *m.FormatVersion != layout.FormatVersion {
				t.Errorf("format_version %v, want %d", m.FormatVersion, layout.FormatVersion)
			}
			if m.Timestamp != ts {
				t.Errorf("manifest timestamp %q, want %q", m.Timestamp, ts)
			}
			if m.Database != "127.0.0.1:55432/test" {
				t.Errorf("manifest database %q", m.Database)
			}
			if !slices.Equal(m.Tables, layout.Tables()) {
				t.Errorf("manifest tables %v, want %v", m.Tables, layout.Tables())
			}
			if len(m.Files) != 2 {
				t.Errorf("manifest files %v, want both tables", m.Files)
			}
			for table, file := range fileOf {
				e, ok := m.Files[table]
				if !ok {
					t.Errorf("manifest has no entry for %s", table)
					continue
				}
				sum, size := sha(t, filepath.Join(dir, file))
				if e.File != file {
					t.Errorf("%s: file %q, want %q", table, e.File, file)
				}
				if e.Rows == nil || *e.Rows != int64(wantRows[table]) {
					t.Errorf("%s: rows %v, want %d", table, e.Rows, wantRows[table])
				}
				if e.Bytes == nil || *e.Bytes != size {
					t.Errorf("%s: bytes %v, file has %d", table, e.Bytes, size)
				}
				if e.SHA256 != sum {
					t.Errorf("%s: sha256 %s, file's is %s", table, e.SHA256, sum)
				}
				if !slices.Equal(e.Columns, wantCols[table]) {
					t.Errorf("%s: columns %v, want %v", table, e.Columns, wantCols[table])
				}
			}
			if parsed, err := layout.ReadManifest(filepath.Join(dir, manifestFile)); err != nil {
				t.Errorf("ReadManifest: %v", err)
			} else if parsed.Files[layout.EmbeddingTable].SHA256 != w.Manifest.Files[layout.EmbeddingTable].SHA256 {
				t.Errorf("ReadManifest disagrees with the Written manifest")
			}

			// The log, in the old pipeline's format.
			logText, err := os.ReadFile(filepath.Join(dir, layout.LogName))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(logText), "\n")
			if len(lines) < 8 || lines[0] != "=== Vector Table Backup Log ===" ||
				lines[1] != "Backup Time: 2025-07-22 10:15:00" || lines[2] != "Task ID: global" ||
				!regexp.MustCompile(`^Duration: [0-9]+\.[0-9]{2}s$`).MatchString(lines[3]) ||
				lines[4] != "" || lines[5] != "Tables Backup Status:" {
				t.Errorf("log header is not the old format:\n%s", logText)
			}
			for i, table := range layout.Tables() {
				_, size := sha(t, filepath.Join(dir, fileOf[table]))
				want := fmt.Sprintf("✓ %s: %d rows -> %s (%s)", table, wantRows[table], fileOf[table], layout.HumanSize(size))
				if len(lines) <= 6+i || lines[6+i] != want {
					t.Errorf("log line for %s missing; want %q in:\n%s", table, want, logText)
				}
			}

			// The catalog lists it as a complete set with its row counts.
			sets, incomplete := scanned(t, root, dir)
			if len(sets) != 1 || len(incomplete) != 0 {
				t.Fatalf("scan: %d sets, %d incomplete; want one complete set", len(sets), len(incomplete))
			}
			s := sets[0]
			if s.Timestamp != ts || s.ManifestFile != manifestFile || s.LogFile != layout.LogName {
				t.Errorf("scanned set %+v", s)
			}
			for table, n := range wantRows {
				if s.RowCounts[table] != int64(n) {
					t.Errorf("scan row count of %s: %d, want %d", table, s.RowCounts[table], n)
				}
			}
		})
	}
}

// TestTaskLog writes into a task folder and checks the log names the task.
func TestTaskLog(t *testing.T) {
	t.Parallel()
	db := seeded(t, sample.Default, sample.Generate(8, collectionNames[:2], 3, 4))
	root := tempRoot(t)
	dir := filepath.Join(root, "task_20250722_101500", "vector_bak")
	w := mustWrite(t, db, backup.Request{Dir: dir, Now: now, TaskID: "task_20250722_101500"})
	b, err := os.ReadFile(filepath.Join(dir, layout.LogName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nTask ID: task_20250722_101500\n") {
		t.Errorf("log does not name the task:\n%s", b)
	}
	sets, _ := scanned(t, root, dir)
	if len(sets) != 1 || sets[0].Timestamp != w.Timestamp || sets[0].RowCounts[layout.EmbeddingTable] != 6 {
		t.Errorf("task location lists %+v", sets)
	}
}

// tricky is one embedding row of TestNullAndEmpty; nil is NULL.
type tricky struct {
	key, custom, coll, vec, doc, meta *string
}

func p(s string) *string { return &s }

// TestNullAndEmpty writes values that break naive CSV and JSON handling,
// restores the set into a fresh database and compares every byte.
func TestNullAndEmpty(t *testing.T) {
	layouts := []sample.Layout{sample.Default, sample.Layouts[3] /* vanna_plain_vector */, sample.Layouts[5] /* community_uuid_last */}
	for _, l := range layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			const dim = 3
			src := pgtest.NewDatabase(t)
			pgtest.Exec(t, src, l.DDL(dim))
			c1, c2, c3 := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
			insertColl := "INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES ($1::text::uuid, $2, $3::text::json)"
			pgtest.Exec(t, src, insertColl, c1, "plain", nil)
			pgtest.Exec(t, src, insertColl, c2, "", "{}") // empty name, empty dict
			pgtest.Exec(t, src, insertColl, c3, "ünïcødé, \"quoted\"\nname\r\n", `{ "spaced" :  [1, 2] , "k": "v, \"q\"\n中", "k": 2 }`)

			rows := []tricky{
				{coll: &c1, vec: p("[1,2,3]"), doc: nil, meta: nil},
				{coll: &c1, vec: p("[1,2,3]"), doc: p(""), meta: p("{}")},
				{coll: &c1, vec: nil, doc: p("  "), meta: p(`{"a": null}`)},
				{coll: &c2, vec: p("[0.5,-0.25,1e-07]"), doc: p(`say "hi", ok`), meta: p(`{"q": "\"", "c": ","}`)},
				{coll: &c2, vec: p("[0,0,0]"), doc: p("line1\nline2\r\nline3\rend"), meta: p(`{"nl": "a\nb\r\n"}`)},
				{coll: &c3, vec: p("[1,1,1]"), doc: p(`\.`), meta: p("null")}, // JSON null, not SQL NULL
				{coll: &c3, vec: p("[1,1,1]"), doc: p("a\n\\.\nb"), meta: p(`"just a string"`)},
				{coll: &c3, vec: p("[2,2,2]"), doc: p("\ufeffbom first"), meta: p("[]")},
				{coll: &c3, vec: p("[3,3,3]"), doc: p("中文😀 ünï\ttab"), meta: p(`{"中": "文", "emoji": "😀"}`)},
				{coll: &c3, vec: p("[4,4,4]"), doc: p(`""`), meta: p("0")},
				{coll: &c3, vec: p("[5,5,5]"), doc: p("NULL"), meta: p(`{"None": "True"}`)},
				{coll: &c3, vec: p("[6,6,6]"), doc: p(`\N`), meta: p(`{"back\\slash": "\\"}`)},
				{coll: nil, vec: p("[7,7,7]"), doc: p(","), meta: p(`{"orphan": true}`)},
			}
			if l.Name == "vanna_plain_vector" {
				rows = append(rows, tricky{coll: &c1, vec: p("[1,2]"), doc: p("other dimension"), meta: nil})
			}
			for i := range rows {
				r := &rows[i]
				if l.Community {
					r.key = p(fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i))
					switch i % 3 {
					case 0:
						r.custom = nil
					case 1:
						r.custom = p("")
					default:
						r.custom = p(fmt.Sprintf("custom,%d\n\"x\"", i))
					}
				} else {
					r.key = p(fmt.Sprintf("key-%d, \"q\"", i))
				}
			}
			if !l.Community {
				rows[0].key = p("") // an empty key is a key, not NULL
			}
			for _, r := range rows {
				if l.Community {
					pgtest.Exec(t, src, `INSERT INTO langchain_pg_embedding (uuid, custom_id, collection_id, embedding, document, cmetadata)
						VALUES ($1::text::uuid, $2, $3::text::uuid, $4::text::vector, $5, $6::text::json)`, r.key, r.custom, r.coll, r.vec, r.doc, r.meta)
				} else {
					pgtest.Exec(t, src, `INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
						VALUES ($1, $2::text::uuid, $3::text::vector, $4, $5::text::jsonb)`, r.key, r.coll, r.vec, r.doc, r.meta)
				}
			}

			root := tempRoot(t)
			dir := filepath.Join(root, "global_vector_bak")
			w := mustWrite(t, src, backup.Request{Dir: dir, Now: now})
			if got := w.Manifest.Files[layout.EmbeddingTable].Rows; got != int64(len(rows)) {
				t.Errorf("manifest embedding rows %d, want %d", got, len(rows))
			}

			dst := pgtest.NewDatabase(t)
			pgtest.Exec(t, dst, l.DDL(dim))
			set := findSet(t, root, dir, w.Timestamp)
			res, err := restore.Run(context.Background(), pgtest.Connect(t, dst), restore.Request{Set: set, Truncate: true})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got := res.RestoreResults[layout.EmbeddingTable].MetadataConverted; got != 0 {
				t.Errorf("metadata_converted %d: the set holds JSON, nothing needs converting", got)
			}
			want, got := pgtest.Dump(t, src), pgtest.Dump(t, dst)
			if got != want {
				t.Errorf("restored tables differ from the source\nsource:\n%s\nrestored:\n%s", want, got)
			}
			// Spot-check the distinctions themselves, in case Dump's text
			// form hid them.
			conn := pgtest.Connect(t, dst)
			var nullDocs, emptyDocs, nullMeta, jsonNull int
			err = conn.QueryRow(context.Background(), `SELECT
				count(*) FILTER (WHERE document IS NULL), count(*) FILTER (WHERE document = ''),
				count(*) FILTER (WHERE cmetadata IS NULL), count(*) FILTER (WHERE cmetadata::text = 'null')
				FROM langchain_pg_embedding`).Scan(&nullDocs, &emptyDocs, &nullMeta, &jsonNull)
			if err != nil {
				t.Fatal(err)
			}
			wantNullMeta := 1
			if l.Name == "vanna_plain_vector" {
				wantNullMeta = 2
			}
			if nullDocs != 1 || emptyDocs != 1 || nullMeta != wantNullMeta || jsonNull != 1 {
				t.Errorf("NULL documents %d, empty %d, NULL metadata %d, JSON null %d; want 1, 1, %d, 1", nullDocs, emptyDocs, nullMeta, jsonNull, wantNullMeta)
			}
		})
	}
}

// TestSameSecond checks that backups never collide or overwrite: two Writes
// with the same clock, a set already at that time, and Writes running at
// once.
func TestSameSecond(t *testing.T) {
	t.Parallel()
	data := sample.Generate(9, collectionNames, 5, 4)
	db := seeded(t, sample.Default, data)
	root := tempRoot(t)
	dir := filepath.Join(root, "global_vector_bak")
	ts0 := now.Format(tsLayout)

	// A set written by the old pipeline already holds the first second,
	// and a manifest alone (a set being removed) the third.
	if err := sample.Generate(10, []string{"old"}, 2, 4).WriteLegacy(dir, ts0, sample.Default); err != nil {
		t.Fatal(err)
	}
	ts2 := now.Add(2 * time.Second).Format(tsLayout)
	orphan := filepath.Join(dir, layout.ManifestName(layout.KindBackup, ts2))
	if err := os.WriteFile(orphan, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, name := range dirNames(t, dir) {
		if name == layout.LogName {
			continue // the folder's log describes the newest set, by design
		}
		before[name], _ = sha(t, filepath.Join(dir, name))
	}

	w1 := mustWrite(t, db, backup.Request{Dir: dir, Now: now})
	pgtest.Exec(t, db, "DELETE FROM langchain_pg_embedding WHERE id = $1", data.Embeddings[0].ID)
	w2 := mustWrite(t, db, backup.Request{Dir: dir, Now: now})

	// New sets sort after every set of the folder near this time (the
	// orphan manifest's too), so the folder's order is the order of writing.
	wantTS := []string{now.Add(3 * time.Second).Format(tsLayout), now.Add(4 * time.Second).Format(tsLayout)}
	if w1.Timestamp != wantTS[0] || w2.Timestamp != wantTS[1] {
		t.Errorf("timestamps %s, %s; want %v (after the taken %s and %s)", w1.Timestamp, w2.Timestamp, wantTS, ts0, ts2)
	}
	for name, sum := range before {
		if got, _ := sha(t, filepath.Join(dir, name)); got != sum {
			t.Errorf("%s was overwritten", name)
		}
	}
	for _, w := range []*backup.Written{w1, w2} {
		m, err := layout.ReadManifest(filepath.Join(dir, layout.ManifestName(layout.KindBackup, w.Timestamp)))
		if err != nil {
			t.Fatalf("manifest of %s: %v", w.Timestamp, err)
		}
		for table, e := range m.Files {
			if sum, _ := sha(t, filepath.Join(dir, e.File)); sum != e.SHA256 {
				t.Errorf("set %s: %s does not match its manifest", w.Timestamp, table)
			}
		}
	}
	if w1.Manifest.Files[layout.EmbeddingTable].Rows != int64(len(data.Embeddings)) ||
		w2.Manifest.Files[layout.EmbeddingTable].Rows != int64(len(data.Embeddings)-1) {
		t.Errorf("the two sets' rows: %d and %d", w1.Manifest.Files[layout.EmbeddingTable].Rows, w2.Manifest.Files[layout.EmbeddingTable].Rows)
	}

	// Writes running at once from separate connections.
	const n = 4
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = pgtest.Connect(t, db)
	}
	var wg sync.WaitGroup
	results := make([]*backup.Written, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = writeOn(context.Background(), conns[i], backup.Request{Dir: dir, Now: now})
		}()
	}
	wg.Wait()
	seen := map[string]bool{ts0: true, ts2: true, w1.Timestamp: true, w2.Timestamp: true}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent write %d: %v", i, errs[i])
		}
		if seen[results[i].Timestamp] {
			t.Errorf("concurrent write %d reused timestamp %s", i, results[i].Timestamp)
		}
		seen[results[i].Timestamp] = true
	}

	sets, incomplete := scanned(t, root, dir)
	if len(sets) != 3+n || len(incomplete) != 0 {
		t.Errorf("scan: %d complete sets, %d incomplete; want %d and 0", len(sets), len(incomplete), 3+n)
	}
	for _, name := range dirNames(t, dir) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("%s left behind", name)
		}
	}
}

// TestTablesSubset backs up the embeddings alone: the collection file is a
// header, and restores of the set leave the collection table alone.
func TestTablesSubset(t *testing.T) {
	t.Parallel()
	data := sample.Generate(11, collectionNames, 6, 4)
	db := seeded(t, sample.Default, data)
	root := tempRoot(t)
	dir := filepath.Join(root, "global_vector_bak")
	w := mustWrite(t, db, backup.Request{Dir: dir, Now: now, Tables: []string{layout.EmbeddingTable}})

	if !slices.Equal(w.Manifest.Tables, []string{layout.EmbeddingTable}) {
		t.Errorf("manifest tables %v", w.Manifest.Tables)
	}
	header, rows := readCSV(t, filepath.Join(dir, w.Manifest.Files[layout.CollectionTable].File))
	if !slices.Equal(header, sample.Default.CollectionColumns()) || len(rows) != 0 {
		t.Errorf("collection file: header %v, %d rows; want a header only", header, len(rows))
	}
	if e := w.Manifest.Files[layout.CollectionTable]; e.Rows != 0 {
		t.Errorf("collection entry %+v, want 0 rows", e)
	}
	_, rows = readCSV(t, filepath.Join(dir, w.Manifest.Files[layout.EmbeddingTable].File))
	if len(rows) != len(data.Embeddings) {
		t.Errorf("embedding file has %d rows, want %d", len(rows), len(data.Embeddings))
	}
	raw, err := os.ReadFile(filepath.Join(dir, layout.ManifestName(layout.KindBackup, w.Timestamp)))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Tables []string `json:"tables"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || !slices.Equal(m.Tables, []string{layout.EmbeddingTable}) {
		t.Errorf("manifest JSON tables %v (%v), want [embedding]:\n%s", m.Tables, err, raw)
	}

	// Change both tables, then restore the set by default: the embeddings
	// come back, the collection table keeps its change.
	pgtest.Exec(t, db, "DELETE FROM langchain_pg_embedding WHERE id = $1", data.Embeddings[3].ID)
	pgtest.Exec(t, db, "UPDATE langchain_pg_collection SET cmetadata = '{\"changed\": true}' WHERE name = 'ddl'")
	collBefore := tableDump(t, db, layout.CollectionTable)
	set := findSet(t, root, dir, w.Timestamp)
	conn := pgtest.Connect(t, db)
	res, err := restore.Run(context.Background(), conn, restore.Request{Set: set, Truncate: true})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if _, ok := res.RestoreResults[layout.CollectionTable]; ok || len(res.RestoreResults) != 1 {
		t.Errorf("restored %v, want the embeddings only", res.RestoreResults)
	}
	if _, ok := res.TruncateResults[layout.CollectionTable]; ok {
		t.Errorf("truncated the collection table: %v", res.TruncateResults)
	}
	if got := res.RestoreResults[layout.EmbeddingTable].RowsRestored; got != int64(len(data.Embeddings)) {
		t.Errorf("rows_restored %d, want %d", got, len(data.Embeddings))
	}
	if got := tableDump(t, db, layout.CollectionTable); got != collBefore {
		t.Errorf("collection table changed:\n%s\nwas\n%s", got, collBefore)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM langchain_pg_embedding").Scan(&n); err != nil || n != len(data.Embeddings) {
		t.Errorf("%d embeddings after restore (%v), want %d", n, err, len(data.Embeddings))
	}

	// Asking for the table the set holds no rows of is refused.
	before := pgtest.Dump(t, db)
	for _, tables := range [][]string{{layout.CollectionTable}, layout.Tables()} {
		_, err = restore.Run(context.Background(), conn, restore.Request{Set: set, Truncate: true, Tables: tables})
		e := wantAPIError(t, err, apierr.InvalidParams)
		if e.Details["param"] != "tables" {
			t.Errorf("tables %v: details %v, want param=tables", tables, e.Details)
		}
	}
	if pgtest.Dump(t, db) != before {
		t.Errorf("a refused restore changed the tables")
	}
}

// tableDump is one table's rows as text, sorted.
func tableDump(t *testing.T, db, table string) string {
	t.Helper()
	var s *string
	err := pgtest.Connect(t, db).QueryRow(context.Background(),
		"SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM "+pgx.Identifier{table}.Sanitize()+" x").Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// TestCollectionsFilter writes only the named collections' rows.
func TestCollectionsFilter(t *testing.T) {
	t.Parallel()
	// A name with a quote checks the literal quoting of COPY's query.
	names := []string{"sql", "ddl", "o'brien'); DROP TABLE langchain_pg_embedding; --", "documentation"}
	data := sample.Generate(12, names, 5, 4)
	for _, l := range []sample.Layout{sample.Default, sample.Layouts[4] /* community_uuid_first */} {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			db := seeded(t, l, data)
			for _, want := range [][]string{{"sql"}, {names[2], "documentation"}, {"absent"}} {
				root := tempRoot(t)
				dir := filepath.Join(root, "global_vector_bak")
				w := mustWrite(t, db, backup.Request{Dir: dir, Now: now, Collections: want})
				if !slices.Equal(w.Manifest.Collections, want) {
					t.Errorf("manifest collections %v, want %v", w.Manifest.Collections, want)
				}
				uuids := map[string]bool{}
				for _, c := range data.Collections {
					if slices.Contains(want, c.Name) {
						uuids[c.UUID] = true
					}
				}
				header, rows := readCSV(t, filepath.Join(dir, w.Manifest.Files[layout.CollectionTable].File))
				nameCol, uuidCol := slices.Index(header, "name"), slices.Index(header, "uuid")
				if len(rows) != len(uuids) {
					t.Errorf("%v: %d collection rows, want %d", want, len(rows), len(uuids))
				}
				for _, r := range rows {
					if !slices.Contains(want, r[nameCol]) || !uuids[r[uuidCol]] {
						t.Errorf("%v: collection file holds %v", want, r)
					}
				}
				header, rows = readCSV(t, filepath.Join(dir, w.Manifest.Files[layout.EmbeddingTable].File))
				collCol := slices.Index(header, "collection_id")
				if len(rows) != 5*len(uuids) {
					t.Errorf("%v: %d embedding rows, want %d", want, len(rows), 5*len(uuids))
				}
				for _, r := range rows {
					if !uuids[r[collCol]] {
						t.Errorf("%v: embedding file holds a row of collection %s", want, r[collCol])
					}
				}
				if w.Manifest.Files[layout.EmbeddingTable].Rows != int64(len(rows)) {
					t.Errorf("%v: manifest rows %d, file %d", want, w.Manifest.Files[layout.EmbeddingTable].Rows, len(rows))
				}
			}
			pgtest.Compare(t, db, data, l) // the odd name changed nothing
		})
	}
}

// TestWriteFailures checks that a Write that fails reports an apierr error
// and leaves nothing the catalog would call a complete set.
func TestWriteFailures(t *testing.T) {
	t.Parallel()
	data := sample.Generate(13, collectionNames, 4, 4)
	db := seeded(t, sample.Default, data)

	t.Run("unwritable folder", func(t *testing.T) {
		root := tempRoot(t)
		dir := filepath.Join(root, "global_vector_bak")
		if os.Geteuid() == 0 {
			// chmod does not stop root: make the folder's parent a file.
			if err := os.WriteFile(dir, []byte("a file"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir = filepath.Join(dir, "sub")
		} else {
			if err := os.Mkdir(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
		}
		_, err := write(t, db, backup.Request{Dir: dir, Now: now})
		if err == nil {
			t.Fatal("Write succeeded into an unwritable folder")
		}
		e, ok := apierr.As(err)
		if !ok {
			t.Fatalf("error %v (%T) is not an apierr error", err, err)
		}
		if !strings.Contains(e.Message, "permissions") {
			t.Errorf("message %q does not say what to fix", e.Message)
		}
		for _, d := range []string{filepath.Join(root, "global_vector_bak"), dir} {
			if sets, _ := scanned(t, root, d); len(sets) != 0 {
				t.Errorf("complete set left in %s: %+v", d, sets)
			}
		}
	})

	t.Run("table missing after the files are reserved", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		pgtest.Exec(t, db, "CREATE TABLE langchain_pg_collection (uuid uuid PRIMARY KEY, name varchar, cmetadata json)")
		root := tempRoot(t)
		dir := filepath.Join(root, "global_vector_bak")
		_, err := write(t, db, backup.Request{Dir: dir, Now: now})
		wantAPIError(t, err, apierr.SchemaMismatch)
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("failed Write left %v", names)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		root := tempRoot(t)
		dir := filepath.Join(root, "global_vector_bak")
		ctx, cancel := context.WithCancel(context.Background())
		conn := pgtest.Connect(t, db)
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = backup.Write(ctx, tx, backup.Request{Dir: dir, Now: now})
		tx.Rollback(context.Background())
		if err == nil {
			t.Fatal("Write succeeded with a cancelled context")
		}
		for _, name := range dirNames(t, dir) {
			if strings.HasPrefix(name, "langchain_pg_") || strings.HasPrefix(name, "vector_backup_manifest_") {
				t.Errorf("failed Write left %s", name)
			}
		}
	})

	t.Run("log cannot be written", func(t *testing.T) {
		root := tempRoot(t)
		dir := filepath.Join(root, "global_vector_bak")
		// A folder where the log goes: the rename over it fails after the
		// set itself was published.
		if err := os.MkdirAll(filepath.Join(dir, layout.LogName, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := write(t, db, backup.Request{Dir: dir, Now: now})
		sets, _ := scanned(t, root, dir)
		if err != nil && len(sets) != 0 {
			t.Logf("Write: %v; complete set left: %s", err, sets[0].Timestamp)
			t.Error("backup.Write returns an error when the log cannot be written, after the set was published complete (backup/backup.go Write: writeLog runs after publish and done=true)")
		}
	})
}
