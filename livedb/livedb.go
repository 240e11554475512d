// Package livedb reads what a database's LangChain tables look like now:
// their columns and keys, row counts and collections. Restores, inspections
// and diffs all read the live tables through it; it changes nothing.
package livedb

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Column is one column of a live table, as PostgreSQL describes it.
type Column struct {
	Name      string
	Type      string // format_type, e.g. "vector(1536)", "jsonb"
	Kind      backupfile.Kind
	Dimension int // declared vector dimension; 0 when the column has none
}

// Table is the live shape of a target table. LangChain's variants differ in
// column order, keys and types, so nothing about it is assumed.
type Table struct {
	Name       string
	Columns    map[string]Column
	Order      []string // columns in table order, for messages
	PrimaryKey []string
}

// Column is how a backup file's column headed name is read into t:
// SCHEMA_MISMATCH when t lacks it. It is a backupfile.Columns.
func (t *Table) Column(name string) (backupfile.Column, error) {
	c, ok := t.Columns[name]
	if !ok {
		return backupfile.Column{}, apierr.New(apierr.SchemaMismatch,
			"the backup has column %q, which table %s lacks (it has: %s); restore into a database whose tables match the backup, or add the column",
			name, t.Name, strings.Join(t.Order, ", ")).
			With("table", t.Name).With("column", name)
	}
	return backupfile.Column{Kind: c.Kind, Dimension: c.Dimension}, nil
}

// Vector is t's vector column, if it has one.
func (t *Table) Vector() (Column, bool) {
	for _, name := range t.Order {
		if c := t.Columns[name]; c.Kind == backupfile.Vector {
			return c, true
		}
	}
	return Column{}, false
}

// Live is the target database as a restore would find it.
type Live struct {
	Tables      map[string]*Table // the tables that exist
	Rows        map[string]int64  // their row counts
	Collections []LiveCollection  // by name, when both tables exist
}

// LiveCollection is a collection of the target and its embeddings.
type LiveCollection struct {
	Name       string
	Embeddings int64
}

// Describe reads the target's LangChain tables in tx. Its errors are the
// driver's, wrapped; callers classify them.
func Describe(ctx context.Context, tx pgx.Tx) (*Live, error) {
	live := &Live{Tables: map[string]*Table{}, Rows: map[string]int64{}}
	for _, name := range layout.Tables() {
		t, err := LoadTable(ctx, tx, name)
		if apierr.TypeOf(err) == apierr.SchemaMismatch {
			continue
		}
		if err != nil {
			return nil, err
		}
		live.Tables[name] = t
		if live.Rows[name], err = CountRows(ctx, tx, name); err != nil {
			return nil, err
		}
	}
	if live.Tables[layout.CollectionTable] == nil || live.Tables[layout.EmbeddingTable] == nil {
		return live, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT c.name, count(e.*) FROM langchain_pg_collection c
		LEFT JOIN langchain_pg_embedding e ON e.collection_id = c.uuid
		GROUP BY c.name ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("count embeddings per collection: %w", err)
	}
	live.Collections, err = pgx.CollectRows(rows, pgx.RowToStructByPos[LiveCollection])
	if err != nil {
		return nil, fmt.Errorf("count embeddings per collection: %w", err)
	}
	return live, nil
}

// LoadTable reads name's columns, or returns SCHEMA_MISMATCH when it does not
// exist.
func LoadTable(ctx context.Context, q Querier, name string) (*Table, error) {
	rows, err := q.Query(ctx, `
		SELECT a.attname, t.typname, a.atttypmod, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	t := &Table{Name: name, Columns: make(map[string]Column)}
	for rows.Next() {
		var c Column
		var typname string
		var typmod int32
		if err := rows.Scan(&c.Name, &typname, &typmod, &c.Type); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", name, err)
		}
		c.Kind = kindOf(typname)
		if c.Kind == backupfile.Vector && typmod > 0 {
			c.Dimension = int(typmod)
		}
		t.Columns[c.Name] = c
		t.Order = append(t.Order, c.Name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	if len(t.Order) == 0 {
		return nil, apierr.New(apierr.SchemaMismatch,
			"table %s does not exist in the target database; create LangChain's PGVector tables there first (let the application start once), then restore", name).
			With("table", name)
	}
	rows, err = q.Query(ctx, `
		SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = to_regclass($1) AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, name)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", name, err)
	}
	if t.PrimaryKey, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", name, err)
	}
	return t, nil
}

// kindOf is how a column of type typname is read from a backup file.
func kindOf(typname string) backupfile.Kind {
	switch typname {
	case "text", "varchar", "bpchar":
		return backupfile.Plain
	case "json":
		return backupfile.JSON
	case "jsonb":
		return backupfile.JSONB
	case "vector":
		return backupfile.Vector
	case "uuid":
		return backupfile.UUID
	}
	return backupfile.Opaque
}

// HasForeignKey reports whether the embedding table references the
// collection table; some deployments dropped the constraint.
func HasForeignKey(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_constraint
			WHERE contype = 'f' AND conrelid = to_regclass($1) AND confrelid = to_regclass($2))`,
		layout.EmbeddingTable, layout.CollectionTable).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read foreign keys of %s: %w", layout.EmbeddingTable, err)
	}
	return ok, nil
}

// Exists reports whether table exists.
func Exists(ctx context.Context, q Querier, table string) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for %s: %w", table, err)
	}
	return ok, nil
}

// CountRows counts name's rows.
func CountRows(ctx context.Context, q Querier, name string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", name, err)
	}
	return n, nil
}

// Querier is what both *pgx.Conn and pgx.Tx offer.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
