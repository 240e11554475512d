package restore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// The tests in this file feed restore and inspect files that a careless
// editor, a broken disk or a hostile user could produce, and check that
// every one ends in a clear error of the right type, naming file and line,
// with the live tables exactly as before (or, for what the format allows,
// in a correct restore).

// hostileMarker is the id of the row a case spoils, so that the line an
// error names can be checked against the file.
const hostileMarker = "hostile-row-marker"

// embHeader is langchain_postgres's embedding columns, as the sample writes
// them.
var embHeader = []string{"id", "collection_id", "embedding", "document", "cmetadata"}

// embRecords returns the dataset's embedding rows as the old pipeline wrote
// them: header first.
func embRecords(d *sample.Dataset) [][]string {
	recs := [][]string{append([]string(nil), embHeader...)}
	for _, e := range d.Embeddings {
		doc := ""
		if e.Document != nil {
			doc = *e.Document
		}
		recs = append(recs, []string{e.ID, e.CollectionID, sample.VectorText(e.Vector), doc, sample.PyRepr(e.Metadata)})
	}
	return recs
}

// pyCSV renders records as Python's csv.writer does (QUOTE_MINIMAL), with
// the given row end.
func pyCSV(recs [][]string, eol string) []byte {
	var b []byte
	for _, rec := range recs {
		b = sample.AppendPythonRow(b, rec, eol)
	}
	return b
}

// spoilMiddle returns the embedding records with the middle data row given
// the marker id and changed by edit.
func spoilMiddle(d *sample.Dataset, edit func(rec []string) []string) [][]string {
	recs := embRecords(d)
	mid := len(recs) / 2
	recs[mid][0] = hostileMarker
	// A one-line document, so that every field of the row is on the line
	// the row starts on.
	recs[mid][3] = "spoiled row"
	recs[mid] = edit(recs[mid])
	return recs
}

// markerLine is the physical line of path (counting LF, CRLF and lone CR)
// on which the marker stands. It streams, so huge files cost nothing.
func markerLine(t *testing.T, path string) int {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := bufio.NewReader(file)
	line, matched := 1, 0
	var prev byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			t.Fatalf("%s: no line holds %q", path, hostileMarker)
		}
		switch {
		case c == '\n' && prev != '\r', c == '\r':
			line++
		}
		prev = c
		if c == hostileMarker[matched] {
			matched++
			if matched == len(hostileMarker) {
				return line
			}
		} else if c == hostileMarker[0] {
			matched = 1
		} else {
			matched = 0
		}
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seededFixture is a fixture whose tables hold its data, so that "unchanged"
// means something.
func seededFixture(t *testing.T) *fixture {
	t.Helper()
	data := sample.Generate(41, names, 6, 8)
	f := newFixture(t, sample.Default, data)
	if _, err := f.restore(t, restore.Request{Truncate: true}); err != nil {
		t.Fatalf("seed restore: %v", err)
	}
	return f
}

func (f *fixture) inspect(t *testing.T, req restore.Request) (*schemas.InspectResult, error) {
	t.Helper()
	req.Set = f.set
	return service.InspectSet(context.Background(), pgtest.Connect(t, f.db), req, false)
}

// wantRefused checks a restore of f's (spoiled) set with req fails with an
// error of type want whose message holds every one of inMsg, that the tables
// are exactly as before, and that inspect reports a problem.
func wantRefused(t *testing.T, f *fixture, req restore.Request, want apierr.Type, inMsg ...string) *apierr.Error {
	t.Helper()
	before := pgtest.Dump(t, f.db)
	_, err := f.restore(t, req)
	if err == nil {
		t.Fatalf("restore succeeded, want %s", want)
	}
	e, ok := apierr.As(err)
	if !ok || e.Type != want {
		t.Fatalf("error %v (%T), want type %s", err, err, want)
	}
	for _, s := range inMsg {
		if !strings.Contains(e.Message, s) {
			t.Errorf("message %q does not mention %q", e.Message, s)
		}
	}
	if after := pgtest.Dump(t, f.db); after != before {
		t.Errorf("tables changed by a failed restore")
	}
	res, err := f.inspect(t, req)
	if err != nil {
		t.Errorf("inspect: %v", err)
	} else if res.Restorable || len(res.Problems) == 0 {
		t.Errorf("inspect reports restorable=%v with problems %q for a set whose restore fails with %s: %s",
			res.Restorable, res.Problems, e.Type, e.Message)
	}
	return e
}

// wantLine checks that e names the file and the line that holds the marker.
func wantLine(t *testing.T, e *apierr.Error, path string) {
	t.Helper()
	name := filepath.Base(path)
	if !strings.Contains(e.Message, name) || e.Details["file"] != name {
		t.Errorf("error does not name file %s: %q, details %v", name, e.Message, e.Details)
	}
	want := markerLine(t, path)
	got, _ := e.Details["line"].(int)
	if got != want {
		t.Errorf("error names line %v, the spoiled row is on line %d: %q", e.Details["line"], want, e.Message)
	}
	if !strings.Contains(e.Message, fmt.Sprintf("line %d", want)) {
		t.Errorf("message %q does not say line %d", e.Message, want)
	}
}

// TestHostileAccepted: what the format allows must restore every row
// exactly.
func TestHostileAccepted(t *testing.T) {
	bom := "\xef\xbb\xbf"
	tests := []struct {
		name  string
		spoil func(t *testing.T, f *fixture)
	}{
		{"UTF-8 BOM at the start of both files", func(t *testing.T, f *fixture) {
			for _, p := range []string{f.set.Path(layout.CollectionTable), f.set.Path(layout.EmbeddingTable)} {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, append([]byte(bom), b...))
			}
		}},
		{"CRLF row ends and CRLF inside quoted documents", func(t *testing.T, f *fixture) {
			b := pyCSV(embRecords(f.data), "\r\n")
			if !bytes.Contains(b, []byte("figures.\r\nSecond line")) {
				t.Fatal("the sample lost its CRLF inside a document")
			}
			writeFile(t, f.set.Path(layout.EmbeddingTable), b)
		}},
		{"LF row ends", func(t *testing.T, f *fixture) {
			writeFile(t, f.set.Path(layout.EmbeddingTable), pyCSV(embRecords(f.data), "\n"))
		}},
		{"BOM, CRLF, no line break after the last row", func(t *testing.T, f *fixture) {
			b := pyCSV(embRecords(f.data), "\r\n")
			writeFile(t, f.set.Path(layout.EmbeddingTable), append([]byte(bom), bytes.TrimSuffix(b, []byte("\r\n"))...))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := seededFixture(t)
			pgtest.Exec(t, f.db, "DELETE FROM langchain_pg_embedding WHERE id IN (SELECT id FROM langchain_pg_embedding LIMIT 3)")
			tt.spoil(t, f)
			res, err := f.restore(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got := res.RestoreResults[layout.EmbeddingTable].RowsRestored; got != int64(len(f.data.Embeddings)) {
				t.Errorf("rows_restored %d, want %d", got, len(f.data.Embeddings))
			}
			pgtest.Compare(t, f.db, f.data, f.layout)
			ins, err := f.inspect(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			if !ins.Restorable || len(ins.Problems) > 0 {
				t.Errorf("inspect: restorable=%v, problems %q", ins.Restorable, ins.Problems)
			}
			if h := ins.Files[layout.EmbeddingTable].Header; len(h) == 0 || h[0] != "id" {
				t.Errorf("inspect header %q: the BOM was not stripped", h)
			}
		})
	}
}

// TestHostileHeaderOnly: a file with only its header is an empty table.
// Decision: it restores successfully, writing 0 rows; with truncate the
// table ends empty, without it nothing changes.
func TestHostileHeaderOnly(t *testing.T) {
	for _, eol := range []string{"\r\n", ""} {
		t.Run(fmt.Sprintf("eol=%q", eol), func(t *testing.T) {
			t.Parallel()
			f := seededFixture(t)
			writeFile(t, f.set.Path(layout.EmbeddingTable), []byte(strings.Join(embHeader, ",")+eol))

			// The set's log promises rows; a header-only file that
			// contradicts it is refused, as a truncated file must be.
			before := pgtest.Dump(t, f.db)
			_, err := f.restore(t, restore.Request{Tables: []string{layout.EmbeddingTable}})
			if e, ok := apierr.As(err); !ok || e.Type != apierr.BackupCorrupt || !strings.Contains(e.Message, "backup log") {
				t.Fatalf("header-only file against a log of %d rows: %v, want BACKUP_CORRUPT naming the log", len(f.data.Embeddings), err)
			}
			if pgtest.Dump(t, f.db) != before {
				t.Fatal("a refused restore changed the tables")
			}
			// Without a log nothing promises rows: an empty table.
			f.set.RowCounts, f.set.LogFile = nil, ""
			res, err := f.restore(t, restore.Request{Tables: []string{layout.EmbeddingTable}})
			if err != nil {
				t.Fatalf("append of a header-only file: %v", err)
			}
			if got, ok := res.RestoreResults[layout.EmbeddingTable]; !ok || got.RowsRestored != 0 {
				t.Errorf("append result %+v, want success with 0 rows", got)
			}
			if pgtest.Dump(t, f.db) != before {
				t.Errorf("appending no rows changed the tables")
			}

			res, err = f.restore(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("truncating restore of a header-only file: %v", err)
			}
			tr := res.TruncateResults[layout.EmbeddingTable]
			if tr.RowsBefore != int64(len(f.data.Embeddings)) || tr.RowsAfter != 0 {
				t.Errorf("truncate result %+v", tr)
			}
			if got := res.RestoreResults[layout.EmbeddingTable].RowsRestored; got != 0 {
				t.Errorf("rows_restored %d, want 0", got)
			}
			var n int
			if err := pgtest.Connect(t, f.db).QueryRow(context.Background(), "SELECT count(*) FROM langchain_pg_embedding").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d embeddings left, want 0", n)
			}
			ins, err := f.inspect(t, restore.Request{Truncate: true})
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			if !ins.Restorable || ins.Files[layout.EmbeddingTable].Rows != 0 {
				t.Errorf("inspect: restorable=%v rows=%d problems %q", ins.Restorable, ins.Files[layout.EmbeddingTable].Rows, ins.Problems)
			}
		})
	}
}

// TestHostileRefused: each spoiled file is refused with the right error and
// changes nothing.
func TestHostileRefused(t *testing.T) {
	emb := func(f *fixture) string { return f.set.Path(layout.EmbeddingTable) }
	tests := []struct {
		name  string
		spoil func(t *testing.T, f *fixture) // writes the spoiled file
		want  apierr.Type
		inMsg []string
		line  bool // the error must name the marker's line
	}{
		{
			name: "invalid UTF-8 inside a document",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[3] = "bad \xff\xfe bytes"
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"UTF"}, // PostgreSQL's "UTF8" or the reader's "UTF-8"
			line:  true,
		},
		{
			name: "invalid UTF-8 inside legacy metadata",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[4] = "{'source': 'x\xc3(y'}"
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"cmetadata"},
			line:  true,
		},
		{
			name: "invalid UTF-8 inside JSON metadata",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[4] = "{\"source\": \"x\xed\xa0\x80y\"}"
					return r
				}), "\r\n"))
			},
			want: apierr.BackupCorrupt,
			line: true,
		},
		{
			name: "NUL byte in a quoted document",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[3] = "nul, \x00 here"
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"NUL"},
			line:  true,
		},
		{
			name: "NUL byte in an unquoted field",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[0] = hostileMarker + "\x00"
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"NUL"},
			line:  true,
		},
		{
			name:  "empty file",
			spoil: func(t *testing.T, f *fixture) { writeFile(t, emb(f), nil) },
			want:  apierr.BackupCorrupt,
			inMsg: []string{"empty", "langchain_pg_embedding_" + ts + ".csv"},
		},
		{
			name:  "byte order mark only",
			spoil: func(t *testing.T, f *fixture) { writeFile(t, emb(f), []byte("\xef\xbb\xbf")) },
			want:  apierr.BackupCorrupt,
			inMsg: []string{"empty"},
		},
		{
			name:  "blank lines only",
			spoil: func(t *testing.T, f *fixture) { writeFile(t, emb(f), []byte("\r\n\r\n\n")) },
			want:  apierr.BackupCorrupt,
			inMsg: []string{"empty"},
		},
		{
			name: "quote left open at the end of the file",
			spoil: func(t *testing.T, f *fixture) {
				recs := embRecords(f.data)
				b := pyCSV(recs, "\r\n")
				b = append(b, pyCSV([][]string{{hostileMarker, recs[1][1], recs[1][2]}}, "")...)
				b = append(b, `,"a document whose closing quote was lost, `+"\r\nsecond line"...)
				writeFile(t, emb(f), b)
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"not closed"},
			line:  true,
		},
		{
			name: "a row with too many fields",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string { return append(r, "extra") }), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"6 fields", "header has 5"},
			line:  true,
		},
		{
			name: "a row with too few fields",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string { return r[:3] }), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"3 fields", "header has 5"},
			line:  true,
		},
		{
			name: "header names a column twice",
			spoil: func(t *testing.T, f *fixture) {
				recs := embRecords(f.data)
				for i := range recs {
					recs[i] = append(recs[i], recs[i][3])
				}
				writeFile(t, emb(f), pyCSV(recs, "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"line 1", `"document" twice`},
		},
		{
			name: "vector of another dimension in the middle",
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					r[2] = "[0.5," + r[2][1:]
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: []string{"9 dimensions", "embedding"},
			line:  true,
		},
	}
	for _, v := range []struct{ name, elem, inMsg string }{
		{"NaN", "NaN", "NaN"},
		{"Infinity", "Infinity", ""},
		{"-Infinity", "-Infinity", ""},
		{"inf", "inf", ""},
		{"nan lower case", "nan", ""},
		{"1e39 overflows float4", "1e39", "out of range"},
		{"-1e39 overflows float4", "-1e39", "out of range"},
		{"empty element", "", ""},
		{"hex float", "0x1p3", ""},
	} {
		tests = append(tests, struct {
			name  string
			spoil func(t *testing.T, f *fixture)
			want  apierr.Type
			inMsg []string
			line  bool
		}{
			name: "vector element " + v.name,
			spoil: func(t *testing.T, f *fixture) {
				writeFile(t, emb(f), pyCSV(spoilMiddle(f.data, func(r []string) []string {
					// Same dimension: only the element is wrong.
					r[2] = "[" + v.elem + r[2][strings.IndexByte(r[2], ','):]
					return r
				}), "\r\n"))
			},
			want:  apierr.BackupCorrupt,
			inMsg: nonEmpty(v.inMsg),
			line:  true,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := seededFixture(t)
			tt.spoil(t, f)
			e := wantRefused(t, f, restore.Request{Truncate: true}, tt.want, tt.inMsg...)
			if tt.line {
				wantLine(t, e, f.set.Path(layout.EmbeddingTable))
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestHostileMillionColumns: a header of a million columns is refused at
// once, without reading them all into memory.
func TestHostileMillionColumns(t *testing.T) {
	t.Parallel()
	f := seededFixture(t)
	w, done := createStream(t, f.set.Path(layout.EmbeddingTable))
	for i := range 1_000_000 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("c")
		w.WriteString(strconv.Itoa(i))
	}
	w.WriteString("\r\n")
	done()
	e := wantRefused(t, f, restore.Request{Truncate: true}, apierr.BackupCorrupt, "too many fields", "line 1")
	if e.Details["line"] != 1 {
		t.Errorf("line %v, want 1", e.Details["line"])
	}
}

// TestHostileSQLShapedNames: a header column or a table name shaped like SQL
// is refused as data, never run.
func TestHostileSQLShapedNames(t *testing.T) {
	t.Parallel()
	f := seededFixture(t)
	pgtest.Exec(t, f.db, "CREATE TABLE x (a int)")
	exists := func(table string) bool {
		var ok bool
		if err := pgtest.Connect(t, f.db).QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	evil := []string{
		`id"; DROP TABLE x; --`,
		`id") FROM STDIN; DROP TABLE x; --`,
		`"id"`,
		`ID`,
		"id\u200b", // zero-width space
	}
	for _, col := range evil {
		t.Run("header column "+col, func(t *testing.T) {
			recs := embRecords(f.data)
			recs[0][0] = col
			writeFile(t, f.set.Path(layout.EmbeddingTable), pyCSV(recs, "\r\n"))
			e := wantRefused(t, f, restore.Request{Truncate: true}, apierr.SchemaMismatch, strconv.Quote(col))
			if e.Details["column"] != col {
				t.Errorf("column detail %q, want %q", e.Details["column"], col)
			}
			for _, table := range []string{"x", layout.CollectionTable, layout.EmbeddingTable} {
				if !exists(table) {
					t.Fatalf("table %s was dropped", table)
				}
			}
		})
	}
	t.Run("collection file header", func(t *testing.T) {
		b, err := os.ReadFile(f.set.Path(layout.CollectionTable))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, f.set.Path(layout.CollectionTable), bytes.Replace(b, []byte("name"), []byte(`"name""; DROP TABLE x; --"`), 1))
		wantRefused(t, f, restore.Request{Truncate: true}, apierr.SchemaMismatch, "DROP TABLE x")
		if !exists("x") || !exists(layout.CollectionTable) {
			t.Fatal("a table was dropped")
		}
	})

	for _, tables := range [][]string{
		{`langchain_pg_embedding"; DROP TABLE x; --`},
		{"langchain_pg_collection; DROP TABLE x"},
		{"langchain_pg_collection' OR '1'='1"},
		{"public.langchain_pg_embedding"},
		{"LANGCHAIN_PG_EMBEDDING"},
		{" langchain_pg_embedding"},
		{"langchain_pg_embedding", "x"},
		{""},
	} {
		t.Run(fmt.Sprintf("tables %q", tables), func(t *testing.T) {
			before := pgtest.Dump(t, f.db)
			_, err := f.restore(t, restore.Request{Truncate: true, Tables: tables})
			e, ok := apierr.As(err)
			if !ok || e.Type != apierr.InvalidParams {
				t.Fatalf("restore error %v, want INVALID_PARAMS", err)
			}
			if e.Details["param"] != "tables" {
				t.Errorf("param %v, want tables", e.Details["param"])
			}
			if _, err := f.inspect(t, restore.Request{Truncate: true, Tables: tables}); apierr.TypeOf(err) != apierr.InvalidParams {
				t.Errorf("inspect error %v, want INVALID_PARAMS", err)
			}
			if pgtest.Dump(t, f.db) != before || !exists("x") {
				t.Error("a refused request changed the database")
			}
		})
	}
}

// createStream creates path for streaming writes; done flushes and closes.
func createStream(t testing.TB, path string) (*bufio.Writer, func()) {
	t.Helper()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(file, 1<<20)
	return w, func() {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// memStats measures what fn allocates: the total bytes allocated, and the
// peak of HeapInuse above its level before fn, sampled every millisecond.
type memStats struct {
	totalAlloc uint64
	peakHeap   uint64 // growth of HeapInuse over the level before fn
}

func measure(fn func()) memStats {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak = max(peak, after.HeapInuse)
	s := memStats{totalAlloc: after.TotalAlloc - before.TotalAlloc}
	if peak > before.HeapInuse {
		s.peakHeap = peak - before.HeapInuse
	}
	return s
}

const mb = 1 << 20

// TestHostileHugeField: a 100 MB field is refused as too long, and the
// restore never holds anything near the whole field. Not parallel: it
// measures the process's memory.
func TestHostileHugeField(t *testing.T) {
	f := seededFixture(t)
	recs := embRecords(f.data)
	path := f.set.Path(layout.EmbeddingTable)
	w, done := createStream(t, path)
	w.Write(pyCSV(recs[:3], "\r\n"))
	// The second data row's document is 100 MB, written in chunks.
	w.Write(pyCSV([][]string{{hostileMarker, recs[1][1], recs[1][2]}}, ""))
	w.WriteString(`,"`)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for written := 0; written < 100*mb; written += len(chunk) {
		w.Write(chunk)
	}
	w.WriteString(`",` + "\r\n")
	w.Write(pyCSV(recs[3:], "\r\n"))
	done()

	e := wantRefused(t, f, restore.Request{Truncate: true}, apierr.BackupCorrupt, "field too long")
	wantLine(t, e, path)

	rm := measure(func() { f.restore(t, restore.Request{Truncate: true}) })
	im := measure(func() { f.inspect(t, restore.Request{Truncate: true}) })
	t.Logf("restore alone: total alloc %.1f MB, peak heap growth %.1f MB", float64(rm.totalAlloc)/mb, float64(rm.peakHeap)/mb)
	t.Logf("inspect alone: total alloc %.1f MB, peak heap growth %.1f MB", float64(im.totalAlloc)/mb, float64(im.peakHeap)/mb)
	// Inspect reads the file twice at once (its report, and the plan on the
	// other core): two readers, each bounded alike.
	for what, s := range map[string]memStats{"restore": rm, "inspect": im} {
		bound := int64(80 * mb)
		if what == "inspect" {
			bound *= 2
		}
		if s.totalAlloc > uint64(bound) {
			t.Errorf("%s of a file with a 100 MB field allocated %.1f MB in all, want < %d MB: the reader buffers the field up to its limit (backupfile.MaxFieldBytes = %d MiB), growing its buffer by append, before refusing it",
				what, float64(s.totalAlloc)/mb, bound/mb, backupfile.MaxFieldBytes/mb)
		}
		if s.peakHeap > uint64(bound) {
			t.Errorf("%s of a file with a 100 MB field grew the heap by %.1f MB", what, float64(s.peakHeap)/mb)
		}
	}
}

// genSet writes a legacy set of n embeddings of dim dimensions into dir,
// streaming: 4 collections, documents with commas, quotes and line breaks,
// Python-repr metadata. It returns the set's total file size.
func genSet(t testing.TB, dir, timestamp string, n, dim int) int64 {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(dim)))
	uuid := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	colls := make([]string, len(names))
	var coll [][]string
	coll = append(coll, []string{"uuid", "name", "cmetadata"})
	for i, name := range names {
		colls[i] = uuid()
		coll = append(coll, []string{colls[i], name, fmt.Sprintf("{'description': '%s data', 'n': %d}", name, i)})
	}
	writeFile(t, filepath.Join(dir, "langchain_pg_collection_"+timestamp+".csv"), pyCSV(coll, "\r\n"))

	path := filepath.Join(dir, "langchain_pg_embedding_"+timestamp+".csv")
	w, done := createStream(t, path)
	w.Write(pyCSV([][]string{embHeader}, "\r\n"))
	var vec []byte
	for i := range n {
		vec = append(vec[:0], '[')
		for j := range dim {
			if j > 0 {
				vec = append(vec, ',')
			}
			vec = strconv.AppendFloat(vec, float64(float32(rng.Float64()*2-1)), 'g', 6, 32)
		}
		vec = append(vec, ']')
		doc := fmt.Sprintf("SELECT \"total\", region FROM orders -- row %d\nWHERE status = 'paid', 中文", i)
		meta := fmt.Sprintf("{'source': 'sql', 'id': %d, 'ok': True, 'n': None, 'tags': ['a', \"b'c\"]}", i)
		w.Write(pyCSV([][]string{{uuid(), colls[i%len(colls)], string(vec), doc, meta}}, "\r\n"))
	}
	done()
	var size int64
	for _, p := range []string{path, filepath.Join(dir, "langchain_pg_collection_"+timestamp+".csv")} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += st.Size()
	}
	return size
}

// bigSet is a generated set and an empty database made for it.
type bigSet struct {
	db    string
	set   catalog.Set
	bytes int64
	rows  int
}

func newBigSet(t testing.TB, n, dim int) *bigSet {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "vector_bak")
	size := genSet(t, dir, ts, n, dim)
	cat, err := catalog.New(root, root)
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), ts)
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(dim))
	return &bigSet{db: db, set: set, bytes: size, rows: n}
}

func (s *bigSet) restore(t testing.TB) *restore.Result {
	t.Helper()
	res, err := restore.Run(context.Background(), pgtest.Connect(t, s.db), restore.Request{Set: s.set, Truncate: true})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := res.RestoreResults[layout.EmbeddingTable].RowsRestored; got != int64(s.rows) {
		t.Fatalf("rows_restored %d, want %d", got, s.rows)
	}
	return res
}

func (s *bigSet) inspect(t testing.TB) *schemas.InspectResult {
	t.Helper()
	res, err := service.InspectSet(context.Background(), pgtest.Connect(t, s.db), restore.Request{Set: s.set, Truncate: true}, false)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if !res.Restorable || res.Files[layout.EmbeddingTable].Rows != int64(s.rows) {
		t.Fatalf("inspect: restorable=%v rows=%d problems %q", res.Restorable, res.Files[layout.EmbeddingTable].Rows, res.Problems)
	}
	return res
}

// TestFlatMemory restores and inspects sets of N and 4N embeddings and
// checks that the heap does not grow with the file. Not parallel: it
// measures the process's memory.
func TestFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and restores about 100 MB")
	}
	const dim, n = 512, 5000
	type result struct{ restore, inspect memStats }
	var results [2]result
	var sizes [2]int64
	for i, rows := range []int{n, 4 * n} {
		s := newBigSet(t, rows, dim)
		sizes[i] = s.bytes
		s.restore(t) // warm up connections and caches; the table is truncated each time
		results[i].restore = measure(func() { s.restore(t) })
		results[i].inspect = measure(func() { s.inspect(t) })
		for _, op := range []struct {
			name string
			m    memStats
		}{{"restore", results[i].restore}, {"inspect", results[i].inspect}} {
			t.Logf("%-7s %6d rows, %6.1f MB: total alloc %7.1f MB (%.3f B per file byte), peak heap growth %5.1f MB",
				op.name, rows, float64(s.bytes)/mb, float64(op.m.totalAlloc)/mb, float64(op.m.totalAlloc)/float64(s.bytes), float64(op.m.peakHeap)/mb)
		}
	}
	const slack = 8 * mb
	for _, op := range []string{"restore", "inspect"} {
		small, big := results[0].restore, results[1].restore
		if op == "inspect" {
			small, big = results[0].inspect, results[1].inspect
		}
		if float64(big.peakHeap) > 1.5*float64(small.peakHeap)+slack {
			t.Errorf("%s: peak heap growth %.1f MB for %d rows against %.1f MB for %d: memory grows with the file",
				op, float64(big.peakHeap)/mb, 4*n, float64(small.peakHeap)/mb, n)
		}
		// Allocation may be proportional to the data, but must stay a small
		// fraction of it: a copy of every row would be 1 or more.
		if per := float64(big.totalAlloc) / float64(sizes[1]); per > 1 {
			t.Errorf("%s allocated %.2f bytes per file byte", op, per)
		}
	}
}

// benchSet is generated once per benchmark run, outside the timer: 20,000
// embeddings of 512 dimensions, or BENCH_ROWS x BENCH_DIMS.
func benchSet(b *testing.B) *bigSet {
	b.Helper()
	rows, dims := 20000, 512
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROWS")); err == nil {
		rows = n
	}
	if n, err := strconv.Atoi(os.Getenv("BENCH_DIMS")); err == nil {
		dims = n
	}
	s := newBigSet(b, rows, dims)
	b.SetBytes(s.bytes)
	b.ReportAllocs()
	b.ResetTimer()
	return s
}

func BenchmarkRestore(b *testing.B) {
	s := benchSet(b)
	for range b.N {
		s.restore(b)
	}
	b.ReportMetric(float64(s.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkInspect(b *testing.B) {
	s := benchSet(b)
	for range b.N {
		s.inspect(b)
	}
	b.ReportMetric(float64(s.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
