package restore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// columnKind says how a column's CSV text must be treated on its way in.
type columnKind int

const (
	kindPlain  columnKind = iota
	kindJSON              // json or jsonb: legacy Python dict text is converted
	kindVector            // pgvector: dimension checked before COPY sees it
)

// column is one column of a target table, as PostgreSQL describes it.
type column struct {
	Name      string
	Type      string // format_type, e.g. "vector(1536)", "jsonb"
	Kind      columnKind
	Dimension int // declared vector dimension; 0 when the column has none
}

// table is the live shape of a target table. LangChain's variants differ in
// column order, keys and types, so nothing about it is assumed.
type table struct {
	Name       string
	Columns    map[string]column
	Order      []string // columns in table order, for messages
	PrimaryKey []string
}

// loadTable reads name's columns, or returns SCHEMA_MISMATCH when it does not
// exist.
func loadTable(ctx context.Context, q querier, name string) (*table, error) {
	rows, err := q.Query(ctx, `
		SELECT a.attname, t.typname, a.atttypmod, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	t := &table{Name: name, Columns: make(map[string]column)}
	for rows.Next() {
		var c column
		var typname string
		var typmod int32
		if err := rows.Scan(&c.Name, &typname, &typmod, &c.Type); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", name, err)
		}
		switch typname {
		case "json", "jsonb":
			c.Kind = kindJSON
		case "vector":
			c.Kind = kindVector
			if typmod > 0 {
				c.Dimension = int(typmod)
			}
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

// hasForeignKey reports whether the embedding table references the
// collection table; some deployments dropped the constraint.
func hasForeignKey(ctx context.Context, q querier, embedding, collection string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_constraint
			WHERE contype = 'f' AND conrelid = to_regclass($1) AND confrelid = to_regclass($2))`,
		embedding, collection).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read foreign keys of %s: %w", embedding, err)
	}
	return ok, nil
}

func countRows(ctx context.Context, q querier, name string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", name, err)
	}
	return n, nil
}

// querier is what both *pgx.Conn and pgx.Tx offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
