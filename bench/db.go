package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// benchDB is the bench database and the harness's own connection to it,
// used (untimed) to load the tables before each run and verify them after.
type benchDB struct {
	admin *pgx.Conn // to the database the cluster URL names
	conn  *pgx.Conn // to the bench database
	url   string    // the bench database's URL, given to every method
	name  string
	ds    *dataset
}

const (
	collTable = "langchain_pg_collection"
	embTable  = "langchain_pg_embedding"
)

func openBench(ctx context.Context, cfg *config, ds *dataset) (*benchDB, error) {
	u, err := url.Parse(cfg.databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("--database-url must be a postgres:// URL")
	}
	u.Path = "/" + cfg.dbName
	db := &benchDB{url: u.String(), name: cfg.dbName, ds: ds}
	if db.admin, err = pgx.Connect(ctx, cfg.databaseURL); err != nil {
		return nil, err
	}
	ident := pgx.Identifier{cfg.dbName}.Sanitize()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", "CREATE DATABASE " + ident} {
		if _, err := db.admin.Exec(ctx, q); err != nil {
			db.admin.Close(ctx)
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	if db.conn, err = pgx.Connect(ctx, db.url); err != nil {
		db.close(ctx, false)
		return nil, err
	}
	// The layout's DDL, and no autovacuum on these tables: every run starts
	// from the state reset gives it, and no background vacuum or analyze of
	// the rows a previous run wrote lands inside a timed run.
	ddl := ds.layout.DDL(ds.truth.Dim) + fmt.Sprintf(`
ALTER TABLE %[1]s SET (autovacuum_enabled = off, toast.autovacuum_enabled = off);
ALTER TABLE %[2]s SET (autovacuum_enabled = off, toast.autovacuum_enabled = off);
`, collTable, embTable)
	if _, err := db.conn.Exec(ctx, ddl); err != nil {
		db.close(ctx, false)
		return nil, fmt.Errorf("schema: %w", err)
	}
	return db, nil
}

func (db *benchDB) close(ctx context.Context, keep bool) {
	if db.conn != nil {
		db.conn.Close(ctx)
	}
	if !keep {
		if _, err := db.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)"); err != nil {
			logf("dropping %s: %v", db.name, err)
		}
	}
	db.admin.Close(ctx)
}

// reset puts the set's rows into the tables (untimed, before every run):
// TRUNCATE, the collections by text COPY, the embeddings by binary COPY, in
// one transaction; then VACUUM (ANALYZE) and CHECKPOINT, so every method
// starts from full, vacuumed, analyzed tables and no dirty buffers.
func (db *benchDB) reset(ctx context.Context) error {
	tx, err := db.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "TRUNCATE "+collTable+", "+embTable); err != nil {
		return err
	}
	loads := []struct{ file, sql string }{
		{db.ds.twinColl, fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv, HEADER)", collTable, strings.Join(db.ds.layout.CollectionColumns(), ", "))},
		{db.ds.binaryEmb, fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary)", embTable, strings.Join(db.ds.layout.EmbeddingColumns(), ", "))},
	}
	for _, l := range loads {
		f, err := os.Open(l.file)
		if err != nil {
			return err
		}
		_, err = db.conn.PgConn().CopyFrom(ctx, f, l.sql)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", l.sql, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	for _, q := range []string{"VACUUM (ANALYZE) " + collTable + ", " + embTable, "CHECKPOINT"} {
		if _, err := db.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return db.checkCounts(ctx)
}

// waitIdle waits until no other session is connected to the bench
// database, so the run's backend has exited before server CPU is read.
func (db *benchDB) waitIdle(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := db.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`, db.name).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sessions still connected to %s after the run", n, db.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (db *benchDB) checkCounts(ctx context.Context) error {
	var nc, ne int
	err := db.conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+collTable+"), (SELECT count(*) FROM "+embTable+")").Scan(&nc, &ne)
	if err != nil {
		return err
	}
	d := db.ds.truth
	if nc != len(d.Collections) || ne != len(d.Embeddings) {
		return fmt.Errorf("the tables hold %d collections and %d embeddings, want %d and %d", nc, ne, len(d.Collections), len(d.Embeddings))
	}
	return nil
}

// verify checks the tables against the generator's truth: the row counts,
// the embeddings per collection, every collection row, and n random
// embedding rows (vectors equal as float4, metadata equal as jsonb values,
// documents equal with NULL distinct from empty text).
func (db *benchDB) verify(ctx context.Context, rng *rand.Rand, n int, always ...int) error {
	if err := db.checkCounts(ctx); err != nil {
		return err
	}
	d := db.ds.truth
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}

	// Collections: all of them, and how many embeddings each holds.
	per := len(d.Embeddings) / len(d.Collections)
	uuids, metas := make([]string, len(d.Collections)), make([]*string, len(d.Collections))
	for i, c := range d.Collections {
		uuids[i], metas[i] = c.UUID, jsonText(c.Metadata)
	}
	rows, err := db.conn.Query(ctx, `
		SELECT t.ord, c.name, c.cmetadata::jsonb IS NOT DISTINCT FROM t.meta::jsonb,
		       (SELECT count(*) FROM `+embTable+` e WHERE e.collection_id = c.uuid)
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(uuid, meta, ord)
		LEFT JOIN `+collTable+` c ON c.uuid = t.uuid::uuid`, uuids, metas)
	if err != nil {
		return err
	}
	seen := 0
	for rows.Next() {
		var ord int64
		var name *string
		var metaOK bool
		var count int
		if err := rows.Scan(&ord, &name, &metaOK, &count); err != nil {
			rows.Close()
			return err
		}
		seen++
		c := d.Collections[ord-1]
		switch {
		case name == nil:
			bad("collection %s (%s) is missing", c.UUID, c.Name)
		case *name != c.Name:
			bad("collection %s: name %q, want %q", c.UUID, *name, c.Name)
		case !metaOK:
			bad("collection %s: cmetadata differs from %s", c.Name, strOrNULL(metas[ord-1]))
		case count != per:
			bad("collection %s holds %d embeddings, want %d", c.Name, count, per)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != len(d.Collections) {
		bad("read %d collections, want %d", seen, len(d.Collections))
	}

	// A random sample of embeddings, always with the first and the last.
	pick := map[int]bool{0: true, len(d.Embeddings) - 1: true}
	for _, i := range always {
		pick[i] = true
	}
	for len(pick) < min(n+len(always), len(d.Embeddings)) {
		pick[rng.IntN(len(d.Embeddings))] = true
	}
	var idx []int
	for i := range pick {
		idx = append(idx, i)
	}
	ids, emetas := make([]string, len(idx)), make([]*string, len(idx))
	for k, i := range idx {
		ids[k], emetas[k] = d.Embeddings[i].ID, jsonText(d.Embeddings[i].Metadata)
	}
	rows, err = db.conn.Query(ctx, `
		SELECT t.ord, e.id IS NOT NULL, e.collection_id::text, e.embedding::real[], e.document,
		       e.cmetadata IS NOT DISTINCT FROM t.meta::jsonb, e.cmetadata::text
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(id, meta, ord)
		LEFT JOIN `+embTable+` e ON e.id = t.id`, ids, emetas)
	if err != nil {
		return err
	}
	seen = 0
	for rows.Next() {
		var ord int64
		var found, metaOK bool
		var collID, doc, metaText *string
		var vec []float32
		if err := rows.Scan(&ord, &found, &collID, &vec, &doc, &metaOK, &metaText); err != nil {
			rows.Close()
			return err
		}
		seen++
		e := &d.Embeddings[idx[ord-1]]
		if !found {
			bad("embedding %s is missing", e.ID)
			continue
		}
		if collID == nil || *collID != e.CollectionID {
			bad("embedding %s: collection_id %s, want %s", e.ID, strOrNULL(collID), e.CollectionID)
		}
		if err := sameVector(vec, e.Vector); err != nil {
			bad("embedding %s: %v", e.ID, err)
		}
		if !sameText(doc, e.Document) {
			bad("embedding %s: document %s, want %s", e.ID, quoteOrNULL(doc), quoteOrNULL(e.Document))
		}
		if !metaOK {
			bad("embedding %s: cmetadata %s, want %s", e.ID, strOrNULL(metaText), strOrNULL(emetas[ord-1]))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != len(idx) {
		bad("read %d sampled embeddings, want %d", seen, len(idx))
	}
	if len(problems) > 0 {
		return errors.New("verification failed:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

func sameVector(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("vector of %d dimensions, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("vector[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	return nil
}

func sameText(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func strOrNULL(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

func quoteOrNULL(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}

// settings returns the cluster settings that matter for bulk loads.
func (db *benchDB) settings(ctx context.Context) ([][2]string, error) {
	names := []string{"fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
		"maintenance_work_mem", "work_mem", "max_wal_size", "checkpoint_timeout", "max_parallel_maintenance_workers"}
	var out [][2]string
	for _, n := range names {
		var v string
		if err := db.conn.QueryRow(ctx, "SELECT current_setting($1)", n).Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, [2]string{n, v})
	}
	return out, nil
}

// selfCheck proves the verification can fail: with the tables full, it
// makes one small wrong change at a time, in a transaction it rolls back,
// and requires verify to report each.
func (db *benchDB) selfCheck(ctx context.Context) error {
	d := db.ds.truth
	nullDoc, nullMeta := -1, -1
	for i := range d.Embeddings {
		if nullDoc < 0 && d.Embeddings[i].Document == nil {
			nullDoc = i
		}
		if nullMeta < 0 && d.Embeddings[i].Metadata == nil {
			nullMeta = i
		}
	}
	first := &d.Embeddings[0]
	nudged := slices.Clone(first.Vector)
	nudged[len(nudged)/2] = math.Nextafter32(nudged[len(nudged)/2], 2)
	type change struct {
		what string
		sql  string
		args []any
	}
	changes := []change{
		{"a vector one float4 step off", "UPDATE " + embTable + " SET embedding = $2::vector WHERE id = $1", []any{first.ID, sample.VectorText(nudged)}},
		{"a document one space longer", "UPDATE " + embTable + " SET document = document || ' ' WHERE id = $1", []any{first.ID}},
		{"a metadata boolean as a string", "UPDATE " + embTable + ` SET cmetadata = cmetadata || '{"ok": "true"}' WHERE id = $1`, []any{first.ID}},
		{"a collection id changed", "UPDATE " + embTable + " SET collection_id = $2::uuid WHERE id = $1", []any{first.ID, d.Collections[len(d.Collections)-1].UUID}},
		{"a row missing", "DELETE FROM " + embTable + " WHERE id = $1", []any{d.Embeddings[len(d.Embeddings)/2].ID}},
		{"collection metadata changed", "UPDATE " + collTable + ` SET cmetadata = '{}' WHERE uuid = $1::uuid`, []any{d.Collections[0].UUID}},
	}
	if nullDoc >= 0 {
		changes = append(changes, change{"a NULL document as empty text", "UPDATE " + embTable + " SET document = '' WHERE id = $1", []any{d.Embeddings[nullDoc].ID}})
	}
	if nullMeta >= 0 {
		changes = append(changes, change{"NULL metadata as JSON null", "UPDATE " + embTable + " SET cmetadata = 'null'::jsonb WHERE id = $1", []any{d.Embeddings[nullMeta].ID}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if err := db.verify(ctx, rng, 10, max(nullDoc, 0), max(nullMeta, 0)); err != nil {
		return fmt.Errorf("the loaded tables: %w", err)
	}
	for _, c := range changes {
		tx, err := db.conn.Begin(ctx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, c.sql, c.args...)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("changed %d rows", tag.RowsAffected())
		}
		if err == nil {
			err = db.verify(ctx, rng, 10, max(nullDoc, 0), max(nullMeta, 0))
			if err == nil {
				err = errors.New("verification did not notice it")
			} else {
				err = nil
			}
		}
		if rbErr := tx.Rollback(ctx); err == nil {
			err = rbErr
		}
		if err != nil {
			return fmt.Errorf("self-check, %s: %w", c.what, err)
		}
	}
	return db.verify(ctx, rng, 10)
}
