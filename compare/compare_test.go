package compare_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/compare"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const ts = "20250721_215758"

var names = []string{"sql", "ddl", "documentation", "error_sql"}

// env is a database holding data, and a legacy set of (possibly other)
// data on disk.
type env struct {
	db  string
	set catalog.Set
}

func newEnv(t *testing.T, l sample.Layout, live, backup *sample.Dataset) *env {
	t.Helper()
	e := &env{db: pgtest.NewDatabase(t)}
	pgtest.Exec(t, e.db, l.DDL(backup.Dim))
	root := t.TempDir()
	if live != nil {
		pgtest.Seed(t, e.db, pgtest.LegacySet(t, root, filepath.Join(root, "live"), ts, live, l))
	}
	e.set = pgtest.LegacySet(t, root, filepath.Join(root, "vector_bak"), ts, backup, l)
	return e
}

func (e *env) diff(t *testing.T) *compare.Diff {
	t.Helper()
	ctx := context.Background()
	var d *compare.Diff
	err := restore.ReadOnly(ctx, pgtest.Connect(t, e.db), func(tx pgx.Tx) error {
		live, err := livedb.Describe(ctx, tx)
		if err != nil {
			return err
		}
		files, err := e.set.Open(context.Background())
		if err != nil {
			return err
		}
		defer files.Close()
		f, err := compare.ReadFile(ctx, files, live)
		if err != nil {
			return err
		}
		d, err = compare.Embeddings(ctx, tx, f, live)
		return err
	})
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	return d
}

func wantCounts(t *testing.T, what string, got compare.Counts, backup, database, changed, identical int64) {
	t.Helper()
	if got.OnlyInBackup != backup || got.OnlyInDatabase != database || got.Changed != changed || got.Identical != identical {
		t.Errorf("%s: only_in_backup %d, only_in_database %d, changed %d, identical %d; want %d %d %d %d",
			what, got.OnlyInBackup, got.OnlyInDatabase, got.Changed, got.Identical, backup, database, changed, identical)
	}
}

func collection(t *testing.T, d *compare.Diff, name string) compare.Counts {
	t.Helper()
	for _, c := range d.Collections {
		if c.Name == name {
			return c.Counts
		}
	}
	t.Fatalf("no collection %s in %+v", name, d.Collections)
	return compare.Counts{}
}

// TestIdenticalAcrossForms: the set the tables were restored from compares
// identical, although its metadata is Python dict text and the tables hold
// JSON, in every layout.
func TestIdenticalAcrossForms(t *testing.T) {
	for _, l := range sample.Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			data := sample.Generate(61, names, 6, 8)
			e := newEnv(t, l, data, data)
			d := e.diff(t)
			n := int64(len(data.Embeddings))
			wantCounts(t, "totals", d.Totals, 0, 0, 0, n)
			if len(d.Collections) != len(names) || len(d.Totals.IdenticalKeys) != compare.Examples {
				t.Errorf("collections %+v, examples %v", d.Collections, d.Totals.IdenticalKeys)
			}
		})
	}
}

// TestEachKindOfChange changes the live rows one way each and checks each
// is counted, in its collection, with the field that differs.
func TestEachKindOfChange(t *testing.T) {
	data := sample.Generate(62, names, 10, 8)
	e := newEnv(t, sample.Default, data, data)
	emb := data.Embeddings
	id := func(i int) string { return emb[i].ID }
	collOf := func(i int) string {
		for _, c := range data.Collections {
			if c.UUID == emb[i].CollectionID {
				return c.Name
			}
		}
		return ""
	}
	// Find rows of the sql collection to change, and another collection.
	var sqlRows []int
	for i := range emb {
		if collOf(i) == "sql" {
			sqlRows = append(sqlRows, i)
		}
	}
	deleted, edited, meta, moved, nudged := sqlRows[0], sqlRows[1], sqlRows[2], sqlRows[3], sqlRows[4]
	pgtest.Exec(t, e.db, `
		DELETE FROM langchain_pg_embedding WHERE id = '`+id(deleted)+`';
		INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
			SELECT 'new-row', collection_id, embedding, 'new', '{}' FROM langchain_pg_embedding WHERE id = '`+id(edited)+`';
		UPDATE langchain_pg_embedding SET document = coalesce(document, '') || ' edited' WHERE id = '`+id(edited)+`';
		UPDATE langchain_pg_embedding SET cmetadata = coalesce(cmetadata, '{}'::jsonb) || '{"edited": true}' WHERE id = '`+id(meta)+`';
		UPDATE langchain_pg_embedding SET collection_id = (SELECT uuid FROM langchain_pg_collection WHERE name = 'ddl') WHERE id = '`+id(moved)+`';
		UPDATE langchain_pg_embedding SET embedding = (
			SELECT (array_agg(CASE WHEN i = 3 THEN x + 0.001 ELSE x END ORDER BY i))::vector
			FROM unnest(embedding::real[]) WITH ORDINALITY AS u(x, i)) WHERE id = '`+id(nudged)+`';
		-- Equal as JSON values: rewritten, not changed.
		UPDATE langchain_pg_embedding SET cmetadata = cmetadata::text::jsonb WHERE id <> '`+id(meta)+`';
	`)
	d := e.diff(t)
	n := int64(len(emb))
	wantCounts(t, "totals", d.Totals, 1, 1, 4, n-5)
	sql := collection(t, d, "sql")
	wantCounts(t, "sql", sql, 1, 1, 4, int64(len(sqlRows))-5) // new-row went into sql too
	wantFields := map[string][]string{
		id(edited): {compare.FieldDocument},
		id(meta):   {compare.FieldMetadata},
		id(moved):  {compare.FieldCollection},
		id(nudged): {compare.FieldVector},
	}
	for _, c := range sql.ChangedKeys {
		if want, ok := wantFields[c.Key]; !ok || !slices.Equal(c.Fields, want) {
			t.Errorf("changed %s: fields %v, want %v", c.Key, c.Fields, want)
		}
	}
	if !slices.Equal(sql.OnlyInBackupKeys, []string{id(deleted)}) {
		t.Errorf("only in backup: %v", sql.OnlyInBackupKeys)
	}
	if edited := collOf(edited); !slices.Equal(collection(t, d, edited).OnlyInDatabaseKeys, []string{"new-row"}) {
		t.Errorf("only in database: %+v", d.Collections)
	}
}

// TestOtherDimension: a set whose vectors have another dimension differs
// in every vector.
func TestOtherDimension(t *testing.T) {
	live := sample.Generate(63, names, 5, 8)
	backup := sample.Generate(63, names, 5, 8)
	for i := range backup.Embeddings {
		backup.Embeddings[i].Vector = append(backup.Embeddings[i].Vector, 0.5)
	}
	backup.Dim = 9
	plain := sample.Layouts[3] // vanna's plain vector column takes any dimension
	e := newEnv(t, plain, live, backup)
	d := e.diff(t)
	n := int64(len(live.Embeddings))
	wantCounts(t, "totals", d.Totals, 0, 0, n, 0)
	for _, c := range d.Totals.ChangedKeys {
		if !slices.Equal(c.Fields, []string{compare.FieldVector}) {
			t.Errorf("%s: %v", c.Key, c.Fields)
		}
	}
}

// TestEmptyDatabase: every backup row is only in the backup.
func TestEmptyDatabase(t *testing.T) {
	data := sample.Generate(64, names, 4, 8)
	e := newEnv(t, sample.Default, nil, data)
	d := e.diff(t)
	wantCounts(t, "totals", d.Totals, int64(len(data.Embeddings)), 0, 0, 0)
	if len(d.Collections) != len(names) {
		t.Errorf("collections %+v", d.Collections)
	}
}
