package restore_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

func inspect(t *testing.T, f *fixture, req restore.Request) *schemas.InspectResult {
	t.Helper()
	req.Set = f.set
	res, err := service.InspectSet(context.Background(), pgtest.Connect(t, f.db), req, false)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return res
}

func TestInspectGoodSet(t *testing.T) {
	data := sample.Generate(21, names, 15, 8)
	f := newFixture(t, sample.Default, data)
	if _, err := f.restore(t, restore.Request{Truncate: true}); err != nil {
		t.Fatal(err)
	}
	before := pgtest.Dump(t, f.db)

	res := inspect(t, f, restore.Request{Truncate: true})
	if !res.Restorable || len(res.Problems) != 0 {
		t.Fatalf("restorable %v, problems %v", res.Restorable, res.Problems)
	}
	emb := res.Files[layout.EmbeddingTable]
	if emb.Rows != int64(len(data.Embeddings)) || emb.BadRows != 0 || emb.LegacyJSONRows == 0 {
		t.Errorf("embedding file report %+v", emb)
	}
	if emb.VectorDimensions == nil || emb.VectorDimensions.Min != 8 || emb.VectorDimensions.Max != 8 {
		t.Errorf("dimensions %+v", emb.VectorDimensions)
	}
	if res.ChecksumStatus != "no_manifest" {
		t.Errorf("checksum status %s for a legacy set", res.ChecksumStatus)
	}
	if len(res.Collections) != len(names) || res.Collections[0].Embeddings != 15 {
		t.Errorf("collections %+v", res.Collections)
	}
	p := res.Plan
	if p == nil || p.Delete[layout.EmbeddingTable] != int64(len(data.Embeddings)) || p.Insert[layout.EmbeddingTable] != int64(len(data.Embeddings)) {
		t.Fatalf("plan %+v", p)
	}
	tr := res.Target.Tables[layout.EmbeddingTable]
	if !tr.Exists || tr.VectorDimension != 8 || tr.Rows != int64(len(data.Embeddings)) {
		t.Errorf("target report %+v", tr)
	}

	// An append plans every key as a conflict: they are all live already.
	res = inspect(t, f, restore.Request{OnConflict: restore.OnConflictSkip})
	if got := res.Plan.Conflicts[layout.EmbeddingTable]; got != int64(len(data.Embeddings)) {
		t.Errorf("conflicts %d, want %d", got, len(data.Embeddings))
	}
	if pgtest.Dump(t, f.db) != before {
		t.Error("inspect changed the tables")
	}
}

func TestInspectBadRowsAndFit(t *testing.T) {
	data := sample.Generate(22, names, 15, 8)
	f := newFixture(t, sample.Default, data)
	replaceInLastRows(t, f.set.Path(layout.EmbeddingTable), "[", "[NaN,")
	spoilUUID(t, f)
	pgtest.Exec(t, f.db, "ALTER TABLE langchain_pg_embedding DROP COLUMN document")

	res := inspect(t, f, restore.Request{Truncate: true})
	if res.Restorable {
		t.Fatal("a set with bad rows and a missing column is restorable")
	}
	emb := res.Files[layout.EmbeddingTable]
	// The spoiled uuid and the NaN are on the same row; inspect reads the
	// file as the restore sends it (binary COPY), which refuses the uuid
	// first.
	if emb.BadRows != 1 || len(emb.BadRowSamples) != 1 {
		t.Fatalf("bad rows %d %+v", emb.BadRows, emb.BadRowSamples)
	}
	bad := emb.BadRowSamples[0]
	if line := physicalLine(t, f.set.Path(layout.EmbeddingTable), bad.Line); !strings.Contains(line, "[NaN,") || !strings.Contains(line, "not-a-uuid") || bad.Column != "collection_id" {
		t.Errorf("bad row %+v points at %q", bad, line)
	}
	if got := res.Target.Tables[layout.EmbeddingTable].MissingColumns; len(got) != 1 || got[0] != "document" {
		t.Errorf("missing columns %v", got)
	}
	if len(res.Problems) < 2 {
		t.Errorf("problems %v", res.Problems)
	}
}

func TestInspectChecksums(t *testing.T) {
	data := sample.Generate(23, names, 10, 8)
	f := newFixture(t, sample.Default, data)
	if _, err := f.restore(t, restore.Request{Truncate: true}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conn := pgtest.Connect(t, f.db)
	ctx := context.Background()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	w, err := backup.Write(ctx, tx, backup.Request{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tx.Commit(ctx)
	cat, _ := catalog.New(dir, dir)
	set, err := cat.FindSet(context.Background(), pgtest.Key(t, cat, dir), w.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	f.set = set
	if res := inspect(t, f, restore.Request{Truncate: true}); res.ChecksumStatus != "verified" || !res.Restorable {
		t.Fatalf("fresh set: %s %v", res.ChecksumStatus, res.Problems)
	}
	// One byte changed, same size.
	b, _ := os.ReadFile(set.Path(layout.EmbeddingTable))
	i := strings.Index(string(b), "SELECT")
	b[i] = 's'
	os.WriteFile(set.Path(layout.EmbeddingTable), b, 0o644)
	res := inspect(t, f, restore.Request{Truncate: true})
	if res.ChecksumStatus != "mismatch" || res.Restorable {
		t.Fatalf("changed byte: %s restorable=%v", res.ChecksumStatus, res.Restorable)
	}
}
