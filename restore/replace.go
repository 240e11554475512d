package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
)

// truncate empties the selected tables in one statement. An online restore
// and a dry run delete instead: DELETE is MVCC-safe (readers keep seeing
// the rows until the commit) and needs no lock that blocks them.
func (j *job) truncate(ctx context.Context, tx pgx.Tx, res *Result) error {
	start := time.Now()
	cascade, err := j.checkTruncate(ctx, tx)
	if err != nil {
		return err
	}
	before := make(map[string]int64, len(j.tables))
	names := make([]string, len(j.tables))
	for i, name := range j.tables {
		if before[name], err = livedb.CountRows(ctx, tx, name); err != nil {
			return err
		}
		names[i] = pgx.Identifier{name}.Sanitize()
	}
	if j.req.DryRun || j.req.Online {
		for i := len(names) - 1; i >= 0; i-- { // embeddings before the collections they reference
			where, args, err := j.deleteWhere(ctx, tx, j.tables[i])
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DELETE FROM "+names[i]+where, args...); err != nil {
				return fmt.Errorf("delete from %s: %w", j.tables[i], err)
			}
		}
	} else {
		sql := "TRUNCATE " + strings.Join(names, ", ")
		if cascade {
			sql += " CASCADE"
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("truncate %s: %w", strings.Join(j.tables, ", "), err)
		}
	}
	for _, name := range j.tables {
		after, err := livedb.CountRows(ctx, tx, name)
		if err != nil {
			return err
		}
		res.TruncateResults[name] = TruncateResult{RowsBefore: before[name], RowsAfter: after, Duration: time.Since(start)}
	}
	res.TruncatePerformed = !j.req.DryRun
	return nil
}

// deleteWhere limits an online restore's DELETE of the collection table to
// the collections the backup lacks, when the embeddings reference them by
// a foreign key: deleting a collection row runs the key's check, a scan of
// the embedding table (its collection_id is rarely indexed), once per row,
// so thousands of collections took minutes. The backup's collections then
// update the kept rows in place (conflictPolicy).
func (j *job) deleteWhere(ctx context.Context, tx pgx.Tx, table string) (string, []any, error) {
	if table != layout.CollectionTable || !j.req.Online {
		return "", nil, nil
	}
	fk, err := livedb.HasForeignKey(ctx, tx)
	if err != nil || !fk {
		return "", nil, err
	}
	t, err := livedb.LoadTable(ctx, tx, table)
	if err != nil || !slices.Equal(t.PrimaryKey, []string{"uuid"}) {
		return "", nil, err
	}
	names, err := backupfile.Collections(ctx, j.req.Files.File(layout.CollectionTable))
	if err != nil {
		return "", nil, err
	}
	keep := make([]string, 0, len(names))
	for id := range names {
		keep = append(keep, id)
	}
	j.keptCollections = true
	return " WHERE NOT (uuid = ANY($1::uuid[]))", []any{keep}, nil
}

// checkTruncate refuses to empty the collection table alone while embeddings
// point at it: with the foreign key they would be deleted with it, without it
// they would be orphaned. It returns whether TRUNCATE needs CASCADE, which
// PostgreSQL demands for a referenced table even when the referencing one is
// empty.
func (j *job) checkTruncate(ctx context.Context, q livedb.Querier) (cascade bool, err error) {
	if slices.Contains(j.tables, layout.EmbeddingTable) {
		return false, nil
	}
	if ok, err := livedb.Exists(ctx, q, layout.EmbeddingTable); err != nil || !ok {
		return false, err
	}
	fk, err := livedb.HasForeignKey(ctx, q)
	if err != nil {
		return false, err
	}
	var referencing int64
	err = q.QueryRow(ctx, fmt.Sprintf(
		"SELECT count(*) FROM %s e WHERE EXISTS (SELECT 1 FROM %s c WHERE c.uuid = e.collection_id)",
		pgx.Identifier{layout.EmbeddingTable}.Sanitize(), pgx.Identifier{layout.CollectionTable}.Sanitize())).Scan(&referencing)
	if err != nil {
		return false, fmt.Errorf("count embeddings referencing collections: %w", err)
	}
	if referencing > 0 {
		what := "be left pointing at collections that no longer exist"
		if fk {
			what = "be deleted with them by the foreign key's cascade"
		}
		return false, apierr.New(apierr.Conflict,
			"refusing to truncate %s alone: %d embeddings reference its collections and would %s; restore both tables (omit tables), or do not truncate",
			layout.CollectionTable, referencing, what).
			With("embeddings_referencing", referencing)
	}
	return fk, nil
}

// deleteCollections deletes the live rows of the collections being replaced:
// their embeddings first (with or without the foreign key), then, when the
// collection table is restored too, the collections themselves.
func (j *job) deleteCollections(ctx context.Context, tx pgx.Tx) error {
	names := j.req.Collections
	if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{layout.EmbeddingTable}.Sanitize()+" "+collectionWhere(layout.EmbeddingTable), names); err != nil {
		return fmt.Errorf("delete embeddings of collections %v: %w", names, err)
	}
	if !slices.Contains(j.tables, layout.CollectionTable) {
		return nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{layout.CollectionTable}.Sanitize()+" "+collectionWhere(layout.CollectionTable), names); err != nil {
		return fmt.Errorf("delete collections %v: %w", names, err)
	}
	return nil
}
