package pgtest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// Dump returns the tables' full content as text, one row per line in a
// stable order, for "exactly as before" comparisons.
func Dump(t testing.TB, dbURL string) string {
	t.Helper()
	conn := Connect(t, dbURL)
	var out string
	for _, table := range []string{"langchain_pg_collection", "langchain_pg_embedding"} {
		var rows *string
		err := conn.QueryRow(context.Background(),
			"SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM "+pgx.Identifier{table}.Sanitize()+" x").Scan(&rows)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		out += "== " + table + "\n"
		if rows != nil {
			out += *rows + "\n"
		}
	}
	return out
}

// Compare checks that the tables hold exactly d's rows: keys, collection
// references, vectors element by element as float4, documents, metadata as
// JSON values, and NULLs.
func Compare(t testing.TB, dbURL string, d *sample.Dataset, l sample.Layout) {
	t.Helper()
	conn := Connect(t, dbURL)
	ctx := context.Background()

	rows, err := conn.Query(ctx, "SELECT uuid::text, name, cmetadata::text FROM langchain_pg_collection")
	if err != nil {
		t.Fatalf("read collections: %v", err)
	}
	got := map[string]bool{}
	want := map[string]sample.Collection{}
	for _, c := range d.Collections {
		want[c.UUID] = c
	}
	for rows.Next() {
		var id, name string
		var meta *string
		if err := rows.Scan(&id, &name, &meta); err != nil {
			t.Fatalf("scan collection: %v", err)
		}
		c, ok := want[id]
		if !ok {
			t.Errorf("collection %s (%s) is not in the backup", id, name)
			continue
		}
		got[id] = true
		if name != c.Name {
			t.Errorf("collection %s: name %q, want %q", id, name, c.Name)
		}
		sameJSON(t, "collection "+id, meta, c.Metadata)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read collections: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("%d collections in the table, want %d", len(got), len(want))
	}

	key := "id"
	if l.Community {
		key = "uuid::text"
	}
	rows, err = conn.Query(ctx, "SELECT "+key+", collection_id::text, embedding::real[], document, cmetadata::text FROM langchain_pg_embedding")
	if err != nil {
		t.Fatalf("read embeddings: %v", err)
	}
	wantE := map[string]sample.Embedding{}
	for _, e := range d.Embeddings {
		wantE[e.ID] = e
	}
	n := 0
	for rows.Next() {
		var id string
		var coll, doc, meta *string
		var vec []float32
		if err := rows.Scan(&id, &coll, &vec, &doc, &meta); err != nil {
			t.Fatalf("scan embedding: %v", err)
		}
		n++
		e, ok := wantE[id]
		if !ok {
			t.Errorf("embedding %s is not in the backup", id)
			continue
		}
		if coll == nil || *coll != e.CollectionID {
			t.Errorf("embedding %s: collection_id %v, want %s", id, coll, e.CollectionID)
		}
		if !reflect.DeepEqual(vec, e.Vector) {
			t.Errorf("embedding %s: vector differs:\n got %v\nwant %v", id, vec, e.Vector)
		}
		// The old format writes empty text and NULL alike; the sample has no
		// empty documents, so any document is expected verbatim.
		switch {
		case e.Document == nil && doc != nil:
			t.Errorf("embedding %s: document %q, want NULL", id, *doc)
		case e.Document != nil && (doc == nil || *doc != *e.Document):
			t.Errorf("embedding %s: document %v, want %q", id, show(doc), *e.Document)
		}
		sameJSON(t, "embedding "+id, meta, e.Metadata)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read embeddings: %v", err)
	}
	if n != len(d.Embeddings) {
		t.Errorf("%d embeddings in the table, want %d", n, len(d.Embeddings))
	}
}

func sameJSON(t testing.TB, what string, got *string, want sample.Value) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("%s: metadata %s, want NULL", what, *got)
		}
		return
	}
	if got == nil {
		t.Errorf("%s: metadata NULL, want %s", what, sample.JSON(want))
		return
	}
	var g, w any
	if err := json.Unmarshal([]byte(*got), &g); err != nil {
		t.Errorf("%s: metadata is not JSON: %v", what, err)
		return
	}
	if err := json.Unmarshal(sample.JSON(want), &w); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: metadata\n got %s\nwant %s", what, *got, sample.JSON(want))
	}
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return "\"" + *s + "\""
}
