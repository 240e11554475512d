package restore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// edgeEnv is a vanna-style database (embedding vector with no dimension)
// holding rows at the edges of what a snapshot must carry: NULLs, empty
// text, quotes, CR, LF and commas, unicode, a big jsonb, float4's edge
// values, vectors of 1 and 16,000 dimensions; and a legacy set (of the
// usual collections) to restore over them.
func edgeEnv(t *testing.T) (*featEnv, catalog.Set) {
	t.Helper()
	e := newFeatEnv(t, sample.Layouts[3], 8) // vanna_plain_vector
	if e.layout.Dimension || e.layout.Community {
		t.Fatalf("layout %s: want a plain vector column", e.layout.Name)
	}
	set := e.legacy(t, sample.Generate(71, names, 3, 8), "task_edges")
	pgtest.Exec(t, e.db, `
		INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES
			('00000000-0000-0000-0000-000000000001', 'sql', '{"a": "b,\"c\"\r\n"}'),
			('00000000-0000-0000-0000-000000000002', 'ddl', NULL),
			('00000000-0000-0000-0000-000000000003', 'documentation 中文', json_build_object('big', repeat('x', 300000)));
		INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) VALUES
			('q "1", ok'||chr(13)||chr(10), '00000000-0000-0000-0000-000000000001', '[1]', 'quotes "x", comma, CR'||chr(13)||' LF'||chr(10)||' 中文 😀', '{"k": "v", "n": null}'),
			('', '00000000-0000-0000-0000-000000000001', (SELECT array_agg(((i % 97) - 48) / 7.0)::real[] FROM generate_series(1, 16000) i)::vector, '', NULL),
			('edges', '00000000-0000-0000-0000-000000000002', '[1e-45,-0,3.4028235e38,1.1754944e-38,-1.4e-45,0.1]', NULL, jsonb_build_object('big', repeat('é', 200000), 'list', '[1, 2.5, null]'::jsonb)),
			('no vector', '00000000-0000-0000-0000-000000000003', NULL, 'x', '{}'),
			('no collection', NULL, '[2]', NULL, '[]');
	`)
	return e, set
}

// TestBinarySnapshotUndo restores over the edge rows, whole tables and per
// collection: each snapshot is binary COPY, and restoring it (the undo)
// gives the tables back exactly.
func TestBinarySnapshotUndo(t *testing.T) {
	t.Parallel()
	e, set := edgeEnv(t)
	before := e.dump(t)
	for _, tt := range []struct {
		name string
		req  restore.Request
	}{
		{"whole tables", restore.Request{Truncate: true}},
		{"per collection", restore.Request{Collections: []string{"sql", "ddl"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Set, req.SnapshotDir, req.BackupRoot = set, e.global, e.cat.Store
			res := e.mustRun(t, req)
			if e.dump(t) == before {
				t.Fatal("the restore changed nothing")
			}
			snap := e.find(t, e.global, res.Snapshot.Timestamp)
			for _, table := range layout.Tables() {
				if want := layout.DataFileName(table, snap.Timestamp, layout.FormatPGCopy); snap.File(table) != want {
					t.Errorf("snapshot file %s, want %s", snap.File(table), want)
				}
			}
			undo := restore.Request{Set: snap, Truncate: res.Snapshot.Undo.Truncate, Collections: res.Snapshot.Undo.Collections}
			e.mustRun(t, undo)
			if e.dump(t) != before {
				t.Error("after the undo the tables differ from before")
			}
		})
	}
}

// TestBinaryMatchesCSV writes the edge rows as CSV and as binary COPY:
// read back, both give the same records, field by field.
func TestBinaryMatchesCSV(t *testing.T) {
	t.Parallel()
	e, _ := edgeEnv(t)
	csvSet := e.find(t, e.global, e.write(t, backup.Request{}).Timestamp)
	binSet := e.find(t, e.global, e.write(t, backup.Request{Format: layout.FormatPGCopy}).Timestamp)
	for _, table := range layout.Tables() {
		if !strings.HasSuffix(binSet.File(table), ".pgcopy") || !strings.HasSuffix(csvSet.File(table), ".csv") {
			t.Fatalf("files %s and %s", csvSet.File(table), binSet.File(table))
		}
		ch, crows := pgtest.SetRows(t, csvSet, table)
		bh, brows := pgtest.SetRows(t, binSet, table)
		if !slices.Equal(ch, bh) {
			t.Errorf("%s: header %v, binary %v", table, ch, bh)
		}
		if len(crows) != len(brows) || len(crows) == 0 {
			t.Fatalf("%s: %d CSV rows, %d binary", table, len(crows), len(brows))
		}
		for i := range crows {
			for j := range crows[i] {
				if crows[i][j] != brows[i][j] {
					t.Errorf("%s row %d %s: CSV %.80q, binary %.80q", table, i+1, ch[j], crows[i][j], brows[i][j])
				}
			}
		}
	}
}

// TestBinaryHostileSnapshot restores binary files broken in each way (their
// manifest's size and SHA-256 made to match, so that the reader itself must
// refuse them): each is BACKUP_CORRUPT naming the file, and the tables are
// unchanged.
func TestBinaryHostileSnapshot(t *testing.T) {
	t.Parallel()
	e, _ := edgeEnv(t)
	good := e.write(t, backup.Request{Format: layout.FormatPGCopy})
	entry := good.Manifest.Files[layout.EmbeddingTable]
	dir := filepath.Join(e.root, e.global)
	orig, err := os.ReadFile(filepath.Join(dir, entry.File))
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(entry.Columns, name) }
	// field returns where field c of record n (from 1) starts: its length word.
	field := func(data []byte, n, c int) int {
		off := 19
		for rec := 1; ; rec++ {
			off += 2
			for i := range len(entry.Columns) {
				if rec == n && i == c {
					return off
				}
				l := int32(binary.BigEndian.Uint32(data[off:]))
				off += 4
				if l > 0 {
					off += int(l)
				}
			}
		}
	}
	// The record holding the 16,000-dimension vector, and one with a document.
	var vecRec, docRec int
	for n := 1; n <= 5; n++ {
		if l := int32(binary.BigEndian.Uint32(orig[field(orig, n, col("embedding")):])); l == 4+4*16000 {
			vecRec = n
		}
		if l := int32(binary.BigEndian.Uint32(orig[field(orig, n, col("document")):])); l > 5 {
			docRec = n
		}
	}
	if vecRec == 0 || docRec == 0 {
		t.Fatal("edge rows not found in the file")
	}
	set32 := func(data []byte, off int, v int32) { binary.BigEndian.PutUint32(data[off:], uint32(v)) }
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		inMsg  string
	}{
		{"bad signature", func(b []byte) []byte { b[0] = 'X'; return b }, "signature"},
		{"bad header extension length", func(b []byte) []byte { set32(b, 15, 1<<30); return b }, "extension"},
		{"field count differs", func(b []byte) []byte { binary.BigEndian.PutUint16(b[19:], 4); return b }, "record 1"},
		{"negative length", func(b []byte) []byte { set32(b, 21, -7); return b }, "record 1"},
		{"huge length", func(b []byte) []byte { set32(b, 21, 1<<30); return b }, "record 1"},
		{"truncated tuple", func(b []byte) []byte { return b[:field(b, vecRec, col("embedding"))+100] }, "record " + strconv.Itoa(vecRec)},
		{"no trailer", func(b []byte) []byte { return b[:len(b)-2] }, "trailer"},
		{"bytes after the trailer", func(b []byte) []byte { return append(b, 0, 0) }, "trailer"},
		{"vector dimension disagrees with its length", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[field(b, vecRec, col("embedding"))+4:], 15999)
			return b
		}, "record " + strconv.Itoa(vecRec)},
		{"invalid UTF-8 in text", func(b []byte) []byte { b[field(b, docRec, col("document"))+4] = 0xff; return b }, "record " + strconv.Itoa(docRec)},
	}
	before := e.dump(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.mutate(slices.Clone(orig))
			set := hostileCopy(t, e, good, bad)
			_, err := e.run(t, restore.Request{Set: set, Truncate: true})
			ae, ok := apierr.As(err)
			if !ok || ae.Type != apierr.BackupCorrupt {
				t.Fatalf("restore: %v, want BACKUP_CORRUPT", err)
			}
			if !strings.Contains(ae.Message, set.File(layout.EmbeddingTable)) || !strings.Contains(ae.Message, tt.inMsg) {
				t.Errorf("message %q does not name the file and say %q", ae.Message, tt.inMsg)
			}
			if strings.Contains(ae.Message, " line ") {
				t.Errorf("a binary file has no lines: %q", ae.Message)
			}
			if e.dump(t) != before {
				t.Error("the refused restore changed the tables")
			}
		})
	}
}

// hostileCopy publishes a copy of set w in a task folder of its own, its
// embedding file replaced by data and its manifest's size and SHA-256 made
// to match.
func hostileCopy(t *testing.T, e *featEnv, w *backup.Written, data []byte) catalog.Set {
	t.Helper()
	ts := w.Timestamp
	dir := filepath.Join(e.root, "task_"+strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], " ", "_"), "vector_bak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := *w.Manifest
	m.Seal = ""
	m.Files = map[string]layout.FileEntry{}
	for table, f := range w.Manifest.Files {
		b, err := os.ReadFile(filepath.Join(e.root, e.global, f.File))
		if err != nil {
			t.Fatal(err)
		}
		if table == layout.EmbeddingTable {
			b = data
		}
		sum := sha256.Sum256(b)
		f.Bytes, f.SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
		m.Files[table] = f
		if err := os.WriteFile(filepath.Join(dir, f.File), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, layout.ManifestName(m.Kind, ts)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(e.root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return e.find(t, rel, ts)
}

// TestBinarySnapshotFallsBackToCSV: a table with a column of a type the
// binary reader does not decode (here a timestamptz the application added)
// is written as CSV in the same snapshot, the other table as binary COPY,
// and the undo restores both exactly.
func TestBinarySnapshotFallsBackToCSV(t *testing.T) {
	t.Parallel()
	e, set := edgeEnv(t)
	pgtest.Exec(t, e.db, `ALTER TABLE langchain_pg_collection ADD COLUMN added timestamptz DEFAULT '2025-01-02 03:04:05+00'`)
	before := e.dump(t)
	res := e.mustRun(t, restore.Request{Set: set, Truncate: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
	snap := e.find(t, e.global, res.Snapshot.Timestamp)
	if got, want := snap.File(layout.CollectionTable), layout.FileName(layout.CollectionTable, snap.Timestamp); got != want {
		t.Errorf("collection file %s, want the CSV %s", got, want)
	}
	if got, want := snap.File(layout.EmbeddingTable), layout.DataFileName(layout.EmbeddingTable, snap.Timestamp, layout.FormatPGCopy); got != want {
		t.Errorf("embedding file %s, want %s", got, want)
	}
	m, err := snap.Manifest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Files[layout.CollectionTable]; c.Format != "" || c.Types != nil || m.FormatVersion != layout.FormatVersionBinary {
		t.Errorf("manifest: version %d, collection entry %+v", m.FormatVersion, c)
	}
	e.mustRun(t, restore.Request{Set: snap, Truncate: true})
	if e.dump(t) != before {
		t.Error("after the undo the tables differ from before")
	}
}
