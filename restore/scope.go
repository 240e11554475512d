package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
)

// Restore modes: what happens to the live rows.
const (
	modeTruncate    = "truncate"    // the selected tables are emptied
	modeCollections = "collections" // the named collections' rows are replaced
	modeAppend      = "append"      // rows are added; conflicts per on_conflict
)

// scope is which live rows a restore replaces and which backup rows it
// sends.
type scope struct {
	mode       string
	tables     []string
	onConflict string

	names           []string          // collections mode: the requested names
	liveCollections []string          // of those, the ones that exist in the target
	backupUUIDs     map[string]bool   // collections mode: the backup's uuids for the names
	remap           map[string]string // backup uuid → live uuid, when only embeddings are restored
	backupNames     map[string]string // every backup collection uuid → name
}

// replaces reports whether the restore deletes or overwrites live rows.
func (s scope) replaces() bool {
	return s.mode != modeAppend || s.onConflict == OnConflictUpdate
}

// resolveScope works out the scope against the set and the live tables.
func (j *job) resolveScope(ctx context.Context, q livedb.Querier) (scope, error) {
	sc := scope{mode: modeAppend, tables: j.tables, onConflict: j.req.OnConflict}
	switch {
	case j.req.Truncate:
		sc.mode = modeTruncate
	case len(j.req.Collections) > 0:
		sc.mode = modeCollections
		sc.names = j.req.Collections
	}
	if sc.mode != modeCollections {
		return sc, nil
	}
	names, err := backupfile.Collections(ctx, j.req.Files.File(layout.CollectionTable))
	if err != nil {
		return sc, err
	}
	sc.backupNames = names
	sc.backupUUIDs = map[string]bool{}
	for _, want := range sc.names {
		found := false
		for id, name := range names {
			if name == want {
				sc.backupUUIDs[id] = true
				found = true
			}
		}
		if !found {
			return sc, apierr.New(apierr.ResourceNotFound, "collection %q is not in this backup set; it holds: %s",
				want, strings.Join(sortedValues(names), ", ")).With("param", "collections").With("collection", want)
		}
	}
	live, err := liveCollections(ctx, q, sc.names)
	if err != nil {
		return sc, err
	}
	for name := range live {
		sc.liveCollections = append(sc.liveCollections, name)
	}
	slices.Sort(sc.liveCollections)
	if !slices.Contains(j.tables, layout.CollectionTable) {
		// Only embeddings are restored: they must point at the live
		// collections of the same names, whose uuids may differ.
		sc.remap = map[string]string{}
		for id := range sc.backupUUIDs {
			ids := live[names[id]]
			switch len(ids) {
			case 0:
				return sc, apierr.New(apierr.ResourceNotFound,
					"collection %q does not exist in the target, so its embeddings have nothing to belong to; restore both tables (omit tables)", names[id]).
					With("param", "collections").With("collection", names[id])
			case 1:
				sc.remap[id] = ids[0]
			default:
				return sc, apierr.New(apierr.Conflict,
					"the target has %d collections named %q, so it is unclear which one the embeddings belong to; restore both tables (omit tables)", len(ids), names[id]).
					With("collection", names[id])
			}
		}
	}
	return sc, nil
}

// rowFilter is the scope applied to one file: which records to send and,
// when only embeddings are restored, the live collection each must point
// at. It reads records as the file has them (backupfile.Reader.Raw), so it
// works whatever form they are sent in.
type rowFilter struct {
	keep  func(raw []csvstream.Field) bool // nil sends every record
	col   int                              // the collection_id column, when remap is set
	remap map[string]string                // backup collection uuid → live uuid
}

// filterFor binds the scope's filter to a file's header.
func (s scope) filterFor(table string, header []string) rowFilter {
	if s.mode != modeCollections {
		return rowFilter{}
	}
	if table == layout.CollectionTable {
		col := slices.Index(header, "name")
		return rowFilter{keep: func(raw []csvstream.Field) bool {
			return col >= 0 && slices.Contains(s.names, string(raw[col].Value))
		}}
	}
	col := slices.Index(header, "collection_id")
	return rowFilter{
		keep: func(raw []csvstream.Field) bool {
			return col >= 0 && s.backupUUIDs[string(raw[col].Value)]
		},
		col:   col,
		remap: s.remap,
	}
}

// fingerprint summarizes the live rows the restore would replace, so a
// confirmation can be refused when they changed: a count and a sum of row
// hashes per table, read in the caller's transaction. A vector is hashed by
// its binary form: printing it as text would cost more than the rest.
func (s scope) fingerprint(ctx context.Context, q livedb.Querier) (string, error) {
	if !s.replaces() {
		return "", nil
	}
	var parts []string
	for _, table := range s.tables {
		t, err := livedb.LoadTable(ctx, q, table)
		if err != nil {
			return "", err
		}
		cols := make([]string, len(t.Order))
		for i, name := range t.Order {
			cols[i] = "x." + pgx.Identifier{name}.Sanitize()
			if t.Columns[name].Kind == backupfile.Vector {
				cols[i] = "md5(vector_send(" + cols[i] + "))"
			}
		}
		where, args := s.where(table)
		var count int64
		var sum string
		err = q.QueryRow(ctx, fmt.Sprintf(
			"SELECT count(*), coalesce(sum(hashtextextended(ROW(%s)::text, 0)::numeric), 0)::text FROM %s x %s",
			strings.Join(cols, ", "), pgx.Identifier{table}.Sanitize(), where), args...).Scan(&count, &sum)
		if err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", table, err)
		}
		parts = append(parts, fmt.Sprintf("%s:%d:%s", table, count, sum))
	}
	digest := sha256.Sum256([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(digest[:16]), nil
}

// liveRows counts the live rows the restore replaces (for update mode, the
// rows it may overwrite: the whole selected tables).
func (s scope) liveRows(ctx context.Context, q livedb.Querier) (int64, error) {
	var total int64
	for _, table := range s.tables {
		n, err := s.count(ctx, q, table)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// count counts table's rows in scope.
func (s scope) count(ctx context.Context, q livedb.Querier, table string) (int64, error) {
	where, args := s.where(table)
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}
	return n, nil
}

// where limits table to the rows in scope: the named collections' rows in
// collections mode, else the whole table.
func (s scope) where(table string) (string, []any) {
	if s.mode != modeCollections {
		return "", nil
	}
	return collectionWhere(table), []any{s.names}
}

// collectionWhere limits table to the rows of the collections named $1.
func collectionWhere(table string) string {
	if table == layout.CollectionTable {
		return "WHERE name = ANY($1::text[])"
	}
	return "WHERE collection_id IN (SELECT uuid FROM langchain_pg_collection WHERE name = ANY($1::text[]))"
}

// liveCollections maps each of names that exists in the target to its uuids
// (langchain_community does not make names unique).
func liveCollections(ctx context.Context, q livedb.Querier, names []string) (map[string][]string, error) {
	rows, err := q.Query(ctx, "SELECT name, uuid::text FROM langchain_pg_collection WHERE name = ANY($1) ORDER BY uuid", names)
	if err != nil {
		return nil, fmt.Errorf("look up collections %v: %w", names, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var name, id string
		if err := rows.Scan(&name, &id); err != nil {
			return nil, err
		}
		out[name] = append(out[name], id)
	}
	return out, rows.Err()
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
