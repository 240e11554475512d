// Package restore is the heart of the server: it restores a backup set into
// LangChain's PGVector tables through pgx, streaming each CSV file into COPY,
// all inside one transaction so that a restore either completes or leaves the
// tables exactly as they were.
package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// LockKey is the transaction-scoped advisory lock every restore of a database
// holds, so that two restores never interleave. Advisory locks are per
// database, which is exactly the scope wanted.
const LockKey int64 = 0x7665_6374_6f72_6273 // "vectorbs"

// Request says what to restore.
type Request struct {
	Set        catalog.Set
	BackupPath string   // as the caller named it, echoed in the result
	Tables     []string // subset of schemas.AllTables; empty means both
	Truncate   bool
	Target     string // password-free name of the database, echoed in the result

	// Progress, when set, is called as the files stream.
	Progress func(Progress)
}

// Progress reports how far a restore got.
type Progress struct {
	Table      string
	BytesDone  int64
	BytesTotal int64 // both files together
	Rows       int64 // rows read from this table's file so far
}

// Run restores req.Set into the database behind conn. On any error the
// transaction is rolled back and the tables are as they were.
func Run(ctx context.Context, conn *pgx.Conn, req Request) (*schemas.RestoreResult, error) {
	start := time.Now()
	tables, err := SelectTables(req.Tables)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, classify(ctx, err, nil)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op after Commit

	r := &run{ctx: ctx, tx: tx, req: req, tables: tables}
	res, err := r.restore()
	if err != nil {
		return nil, classify(ctx, err, r.current)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, commitError(ctx, err)
	}
	res.Duration = time.Since(start).Seconds()
	res.Timestamp = time.Now().Format(time.RFC3339)
	return res, nil
}

// run is the state of one restore transaction.
type run struct {
	ctx     context.Context
	tx      pgx.Tx
	req     Request
	tables  []string
	current *source // the file being copied, for error reports
}

func (r *run) restore() (*schemas.RestoreResult, error) {
	if _, err := r.tx.Exec(r.ctx, "SELECT pg_advisory_xact_lock($1)", LockKey); err != nil {
		return nil, fmt.Errorf("wait for other restores of this database: %w", err)
	}
	sources, err := r.openSources()
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	if err != nil {
		return nil, err
	}

	res := &schemas.RestoreResult{
		BackupInfo: schemas.BackupInfo{
			BackupPath: r.req.BackupPath,
			Timestamp:  r.req.Set.Timestamp,
			BackupDate: r.req.Set.BackupDate(),
		},
		Target:          r.req.Target,
		TruncateResults: map[string]schemas.TruncateResult{},
		RestoreResults:  map[string]schemas.TableRestoreResult{},
		Errors:          []string{},
	}
	if r.req.Truncate {
		if err := r.truncate(res); err != nil {
			return nil, err
		}
	}
	var total, done int64
	for _, s := range sources {
		total += s.size
	}
	for _, s := range sources {
		tr, err := r.copy(s, done, total)
		if err != nil {
			return nil, err
		}
		res.RestoreResults[s.table.Name] = tr
		done += s.size
	}
	res.RestorePerformed = true
	return res, nil
}

// openSources opens each selected table's file and checks it against the live
// table before anything is written.
func (r *run) openSources() ([]*source, error) {
	var sources []*source
	for _, name := range r.tables {
		t, err := loadTable(r.ctx, r.tx, name)
		if err != nil {
			return sources, err
		}
		path := r.req.Set.CollectionPath()
		if name == schemas.EmbeddingTable {
			path = r.req.Set.EmbeddingPath()
		}
		s, err := openSource(path, t)
		if err != nil {
			return sources, err
		}
		sources = append(sources, s)
	}
	return sources, nil
}

// truncate empties the selected tables in one statement.
func (r *run) truncate(res *schemas.RestoreResult) error {
	start := time.Now()
	cascade, err := r.checkTruncate()
	if err != nil {
		return err
	}
	before := make(map[string]int64, len(r.tables))
	names := make([]string, len(r.tables))
	for i, name := range r.tables {
		if before[name], err = countRows(r.ctx, r.tx, name); err != nil {
			return err
		}
		names[i] = pgx.Identifier{name}.Sanitize()
	}
	sql := "TRUNCATE " + strings.Join(names, ", ")
	if cascade {
		sql += " CASCADE"
	}
	if _, err := r.tx.Exec(r.ctx, sql); err != nil {
		return fmt.Errorf("truncate %s: %w", strings.Join(r.tables, ", "), err)
	}
	for _, name := range r.tables {
		after, err := countRows(r.ctx, r.tx, name)
		if err != nil {
			return err
		}
		res.TruncateResults[name] = schemas.TruncateResult{
			Success:    true,
			RowsBefore: before[name],
			RowsAfter:  after,
			Duration:   time.Since(start).Seconds(),
		}
	}
	res.TruncatePerformed = true
	return nil
}

// checkTruncate refuses to empty the collection table alone while embeddings
// point at it: with the foreign key they would be deleted with it, without it
// they would be orphaned. It returns whether TRUNCATE needs CASCADE, which
// PostgreSQL demands for a referenced table even when the referencing one is
// empty.
func (r *run) checkTruncate() (cascade bool, err error) {
	if slices.Contains(r.tables, schemas.EmbeddingTable) {
		return false, nil
	}
	var exists bool
	if err := r.tx.QueryRow(r.ctx, "SELECT to_regclass($1) IS NOT NULL", schemas.EmbeddingTable).Scan(&exists); err != nil {
		return false, fmt.Errorf("look for %s: %w", schemas.EmbeddingTable, err)
	}
	if !exists {
		return false, nil
	}
	fk, err := hasForeignKey(r.ctx, r.tx, schemas.EmbeddingTable, schemas.CollectionTable)
	if err != nil {
		return false, err
	}
	var referencing int64
	err = r.tx.QueryRow(r.ctx, fmt.Sprintf(
		"SELECT count(*) FROM %s e WHERE EXISTS (SELECT 1 FROM %s c WHERE c.uuid = e.collection_id)",
		pgx.Identifier{schemas.EmbeddingTable}.Sanitize(), pgx.Identifier{schemas.CollectionTable}.Sanitize())).Scan(&referencing)
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
			schemas.CollectionTable, referencing, what).
			With("embeddings_referencing", referencing)
	}
	return fk, nil
}

// copy streams one source into its table.
func (r *run) copy(s *source, done, total int64) (schemas.TableRestoreResult, error) {
	start := time.Now()
	r.current = s
	if r.req.Progress != nil {
		s.onRead = func(read, rows int64) {
			r.req.Progress(Progress{Table: s.table.Name, BytesDone: done + read, BytesTotal: total, Rows: rows})
		}
	}
	tag, err := r.tx.Conn().PgConn().CopyFrom(r.ctx, s, s.copySQL())
	if err != nil {
		if readErr := s.readErr(); readErr != nil {
			return schemas.TableRestoreResult{}, readErr
		}
		return schemas.TableRestoreResult{}, fmt.Errorf("copy %s into %s: %w", s.name(), s.table.Name, err)
	}
	rows, converted := s.counts()
	if tag.RowsAffected() != rows {
		return schemas.TableRestoreResult{}, fmt.Errorf("copy %s into %s: sent %d rows, server stored %d", s.name(), s.table.Name, rows, tag.RowsAffected())
	}
	r.current = nil
	return schemas.TableRestoreResult{
		Success:           true,
		SourceFile:        s.path,
		RowsRestored:      tag.RowsAffected(),
		FileSize:          catalog.HumanSize(s.size),
		FileBytes:         s.size,
		Duration:          time.Since(start).Seconds(),
		MetadataConverted: converted,
	}, nil
}

// SelectTables validates the requested tables and puts them in restore order;
// none means both.
func SelectTables(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return schemas.AllTables, nil
	}
	for _, t := range requested {
		if !slices.Contains(schemas.AllTables, t) {
			return nil, apierr.New(apierr.InvalidParams, "unknown table %q; tables may name %s", t, strings.Join(schemas.AllTables, " and ")).
				With("param", "tables")
		}
	}
	var out []string
	for _, t := range schemas.AllTables {
		if slices.Contains(requested, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
