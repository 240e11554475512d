// Package sample makes LangChain PGVector data and writes it as backup sets
// in the old Python pipeline's format. The demo uses it to have something to
// restore, and the tests use it to generate their backups, so both exercise
// exactly the files users have.
package sample

import (
	"fmt"
	"strings"
)

// Layout is one real variant of LangChain's PGVector tables. Deployments
// differ in column order, keys, metadata types and vector declarations.
type Layout struct {
	Name string

	// Community is langchain_community's PGVector: embeddings keyed by a uuid
	// column with a custom_id, collection names not unique, JSON metadata.
	Community bool
	// UUIDFirst puts the community tables' uuid column first (older
	// SQLAlchemy) rather than last.
	UUIDFirst bool
	// ForeignKey keeps embeddings.collection_id REFERENCES collection(uuid).
	ForeignKey bool
	// Dimension declares vector(n) rather than plain vector (as vanna does).
	Dimension bool
	// OldIDIndex adds langchain_postgres <= 0.0.13's ix_langchain_pg_embedding_id.
	OldIDIndex bool
}

// Layouts lists the variants the server must handle.
var Layouts = []Layout{
	{Name: "langchain_postgres", ForeignKey: true, Dimension: true},
	{Name: "langchain_postgres_0.0.13", ForeignKey: true, Dimension: true, OldIDIndex: true},
	{Name: "langchain_postgres_no_fk", Dimension: true},
	{Name: "vanna_plain_vector", ForeignKey: true},
	{Name: "community_uuid_first", Community: true, UUIDFirst: true, ForeignKey: true, Dimension: true},
	{Name: "community_uuid_last", Community: true, ForeignKey: true},
	{Name: "community_no_fk", Community: true, Dimension: true},
}

// Default is langchain_postgres's current layout.
var Default = Layouts[0]

// CollectionColumns returns the collection table's columns in table order,
// which is the order the old pipeline's SELECT * wrote them.
func (l Layout) CollectionColumns() []string {
	if !l.Community {
		return []string{"uuid", "name", "cmetadata"}
	}
	if l.UUIDFirst {
		return []string{"uuid", "name", "cmetadata"}
	}
	return []string{"name", "cmetadata", "uuid"}
}

// EmbeddingColumns returns the embedding table's columns in table order.
func (l Layout) EmbeddingColumns() []string {
	if !l.Community {
		return []string{"id", "collection_id", "embedding", "document", "cmetadata"}
	}
	cols := []string{"collection_id", "embedding", "document", "cmetadata", "custom_id"}
	if l.UUIDFirst {
		return append([]string{"uuid"}, cols...)
	}
	return append(cols, "uuid")
}

// DDL creates the layout's two tables for vectors of dim dimensions.
func (l Layout) DDL(dim int) string {
	types := map[string]string{
		"uuid":          "UUID NOT NULL PRIMARY KEY",
		"name":          "VARCHAR NOT NULL UNIQUE",
		"cmetadata":     "JSON",
		"id":            "VARCHAR NOT NULL PRIMARY KEY",
		"collection_id": "UUID",
		"embedding":     "vector",
		"document":      "VARCHAR",
		"custom_id":     "VARCHAR",
	}
	if l.Community {
		types["name"] = "VARCHAR"
	}
	if l.Dimension {
		types["embedding"] = fmt.Sprintf("vector(%d)", dim)
	}
	if l.ForeignKey {
		types["collection_id"] = "UUID REFERENCES langchain_pg_collection (uuid) ON DELETE CASCADE"
	}
	var b strings.Builder
	b.WriteString("CREATE EXTENSION IF NOT EXISTS vector;\n")
	writeTable(&b, "langchain_pg_collection", l.CollectionColumns(), types)
	embTypes := types
	if !l.Community {
		embTypes = clone(types)
		embTypes["cmetadata"] = "JSONB"
	}
	writeTable(&b, "langchain_pg_embedding", l.EmbeddingColumns(), embTypes)
	if !l.Community {
		b.WriteString("CREATE INDEX ix_cmetadata_gin ON langchain_pg_embedding USING gin (cmetadata jsonb_path_ops);\n")
	}
	if l.OldIDIndex {
		b.WriteString("CREATE UNIQUE INDEX ix_langchain_pg_embedding_id ON langchain_pg_embedding (id);\n")
	}
	return b.String()
}

func writeTable(b *strings.Builder, name string, cols []string, types map[string]string) {
	fmt.Fprintf(b, "CREATE TABLE %s (\n", name)
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  %s %s%s\n", c, types[c], sep)
	}
	b.WriteString(");\n")
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
