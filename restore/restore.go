// Package restore is the heart of the server: it restores a backup set into
// LangChain's PGVector tables through pgx, streaming each CSV file into COPY,
// all inside one transaction so that a restore either completes or leaves the
// tables exactly as they were.
package restore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// LockKey is the transaction-scoped advisory lock every restore of a database
// holds exclusively (and every backup shared), so that two restores never
// interleave and a backup never sees half a restore. Advisory locks are per
// database, which is exactly the scope wanted.
const LockKey int64 = 0x7665_6374_6f72_6273 // "vectorbs"

// On-conflict policies for appended rows.
const (
	OnConflictError  = "error"
	OnConflictSkip   = "skip"
	OnConflictUpdate = "update"
)

// Request says what to restore.
type Request struct {
	Set         catalog.Set
	BackupPath  string   // as the caller named it, echoed in the result
	Tables      []string // subset of schemas.AllTables; empty means the set's tables
	Truncate    bool
	Collections []string // replace only these collections, by name
	OnConflict  string   // OnConflictError (default), OnConflictSkip or OnConflictUpdate
	DryRun      bool     // do everything, then roll back
	Target      string   // password-free name of the database, echoed in the result

	// Snapshot, when set, is where the rows about to be replaced are saved
	// as a backup set first, inside the restore's transaction.
	Snapshot *SnapshotTarget

	// Expect, from a confirmation token, is the world the user approved:
	// checked under the lock before anything changes.
	Expect *Binding

	// Progress, when set, is called as the files stream.
	Progress func(Progress)
}

// Binding is the world a confirmed plan was made for: the live rows it
// replaces and the files it reads. A confirmation token carries it.
type Binding struct {
	State string            // fingerprint of the rows to be replaced
	Files map[string]string // table → SHA-256 of its file
}

// SnapshotTarget says where snapshots go and how callers name that folder.
type SnapshotTarget struct {
	Dir        string
	BackupPath string
}

// Progress reports how far a restore got.
type Progress struct {
	Table      string
	BytesDone  int64
	BytesTotal int64 // both files together
	Rows       int64 // rows sent from this table's file so far
}

// Run restores req.Set into the database behind conn. On any error, and
// after a dry run, the transaction is rolled back and the tables are as they
// were.
func Run(ctx context.Context, conn *pgx.Conn, req Request) (*schemas.RestoreResult, error) {
	start := time.Now()
	r, err := newRun(req)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, classify(ctx, err, nil)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op after Commit
	r.ctx, r.tx = ctx, tx

	res, err := r.restore()
	if err != nil {
		r.discardSnapshot()
		return nil, unchanged(classify(ctx, err, r.current))
	}
	if req.DryRun {
		if err := tx.Rollback(ctx); err != nil {
			return nil, classify(ctx, err, nil)
		}
	} else if err := tx.Commit(ctx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			// PostgreSQL answered: the commit was refused and rolled
			// back, so the snapshot describes no change. A lost
			// connection leaves the outcome unknown; the snapshot stays.
			r.discardSnapshot()
		}
		return nil, commitError(ctx, err)
	}
	if r.snapshot != nil {
		// Only now: the folder's log describes its newest set, and the
		// snapshot became real with the commit.
		if r.snapshot.WriteLog(); r.snapshot.LogError != nil {
			res.Errors = append(res.Errors, "the snapshot is complete, but the folder's backup log could not be updated: "+r.snapshot.LogError.Error())
		}
	}
	res.Duration = time.Since(start).Seconds()
	res.Timestamp = time.Now().Format(time.RFC3339)
	return res, nil
}

// run is the state of one restore transaction.
type run struct {
	ctx      context.Context
	tx       pgx.Tx
	req      Request
	tables   []string
	manifest *backup.Manifest
	scope    scope
	current  *source // the file being copied, for error reports
	snapshot *backup.Written
}

// newRun checks the options that need no database.
func newRun(req Request) (*run, error) {
	if req.OnConflict == "" {
		req.OnConflict = OnConflictError
	}
	if !slices.Contains([]string{OnConflictError, OnConflictSkip, OnConflictUpdate}, req.OnConflict) {
		return nil, apierr.New(apierr.InvalidParams, "on_conflict must be error, skip or update, got %q", req.OnConflict).With("param", "on_conflict")
	}
	if req.Truncate && len(req.Collections) > 0 {
		return nil, apierr.New(apierr.InvalidParams,
			"collections and truncate_before_restore cannot be combined: collections already replaces those collections' rows; drop truncate_before_restore").
			With("param", "collections")
	}
	r := &run{req: req}
	var err error
	if r.manifest, err = readManifest(req.Set); err != nil {
		return nil, err
	}
	requested := req.Tables
	if len(requested) == 0 && r.manifest != nil {
		requested = r.manifest.Tables
	}
	if r.tables, err = SelectTables(requested); err != nil {
		return nil, err
	}
	if r.manifest != nil && len(r.manifest.Collections) > 0 && req.Truncate {
		// Such a set (a per-collection snapshot) lacks every other
		// collection: a truncate would delete them.
		return nil, apierr.New(apierr.InvalidParams,
			"this set holds only collections %v; restore it with collections=%v instead of truncate_before_restore, which would delete every other collection",
			r.manifest.Collections, r.manifest.Collections).With("param", "truncate_before_restore")
	}
	if r.manifest != nil {
		for _, t := range r.tables {
			if !slices.Contains(r.manifest.Tables, t) {
				return nil, apierr.New(apierr.InvalidParams, "this set holds no rows of %s (it was backed up with tables %v); leave %s out of tables",
					t, r.manifest.Tables, t).With("param", "tables")
			}
		}
	}
	if len(req.Collections) > 0 && !slices.Contains(r.tables, schemas.EmbeddingTable) {
		return nil, apierr.New(apierr.InvalidParams,
			"restoring collections without %s would delete or orphan those collections' embeddings; include both tables (omit tables)",
			schemas.EmbeddingTable).With("param", "tables")
	}
	return r, nil
}

func (r *run) restore() (*schemas.RestoreResult, error) {
	// A server killed while its session waits for a lock would otherwise keep
	// its locks until the wait ends: have PostgreSQL (14 and later) check the
	// client.
	if serverMajor(r.tx.Conn()) >= 14 {
		if _, err := r.tx.Exec(r.ctx, "SET LOCAL client_connection_check_interval = '1s'"); err != nil {
			return nil, fmt.Errorf("configure the restore session: %w", err)
		}
	}
	if _, err := r.tx.Exec(r.ctx, "SELECT pg_advisory_xact_lock($1)", LockKey); err != nil {
		return nil, fmt.Errorf("wait for other restores of this database: %w", err)
	}
	if err := r.lockTables(); err != nil {
		return nil, err
	}
	var err error
	if r.scope, err = r.resolveScope(); err != nil {
		return nil, err
	}
	sources, err := r.openSources(nil)
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	if err := r.checkExpected(); err != nil {
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
		DryRun:          r.req.DryRun,
		OnConflict:      r.req.OnConflict,
		Collections:     r.req.Collections,
	}
	if err := r.takeSnapshot(res); err != nil {
		return nil, err
	}
	switch {
	case r.req.Truncate:
		if err := r.truncate(res); err != nil {
			return nil, err
		}
	case len(r.req.Collections) > 0:
		if err := r.deleteCollections(); err != nil {
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
	res.RestorePerformed = !r.req.DryRun
	return res, nil
}

// lockTables keeps the application from changing the selected tables
// between the checks, the snapshot and the restore, so the snapshot is
// exactly what is replaced. Truncating needs ACCESS EXCLUSIVE anyway; the
// other modes (and dry runs) block writers only, never readers.
func (r *run) lockTables() error {
	mode := "SHARE ROW EXCLUSIVE"
	if r.req.Truncate && !r.req.DryRun {
		mode = "ACCESS EXCLUSIVE"
	}
	for _, t := range r.tables {
		var exists bool
		if err := r.tx.QueryRow(r.ctx, "SELECT to_regclass($1) IS NOT NULL", t).Scan(&exists); err != nil {
			return fmt.Errorf("look for %s: %w", t, err)
		}
		if !exists {
			continue // loadTable reports it
		}
		if _, err := r.tx.Exec(r.ctx, fmt.Sprintf("LOCK TABLE %s IN %s MODE", pgx.Identifier{t}.Sanitize(), mode)); err != nil {
			return fmt.Errorf("lock %s: %w", t, err)
		}
	}
	return nil
}

// serverMajor is the server's major version, 0 when unknown.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// readManifest reads the set's manifest, if it has one.
func readManifest(set catalog.Set) (*backup.Manifest, error) {
	if set.ManifestFile == "" {
		return nil, nil
	}
	m, err := backup.ReadManifest(filepath.Join(set.Dir, set.ManifestFile))
	if err != nil {
		return nil, apierr.Wrap(apierr.BackupCorrupt, err, "the set's manifest %s is unreadable: %v; remove it to restore the files unchecked", set.ManifestFile, err).
			With("file", set.ManifestFile)
	}
	if m.Timestamp != set.Timestamp {
		return nil, apierr.New(apierr.BackupCorrupt, "manifest %s describes set %s, not %s", set.ManifestFile, m.Timestamp, set.Timestamp).
			With("file", set.ManifestFile)
	}
	return m, nil
}

// openSources opens each selected table's file and checks it against the live
// table before anything is written. configure, when set, sets up each source
// (its tap) before its first record is read.
func (r *run) openSources(configure func(*source)) ([]*source, error) {
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
		s, err := openSource(r.ctx, path, t, r.expectation(name), r.scope)
		if err != nil {
			return sources, err
		}
		sources = append(sources, s)
		if configure != nil {
			configure(s)
		}
		if err := s.preflight(); err != nil {
			return sources, err
		}
	}
	return sources, nil
}

// expectation merges what the manifest (or, for an old set, its backup log)
// and the confirmation say the file is.
func (r *run) expectation(table string) *FileExpectation {
	var e *FileExpectation
	if r.manifest != nil {
		f := r.manifest.Files[table]
		e = &FileExpectation{Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256, From: "manifest"}
	} else if n, ok := r.req.Set.RowCounts[table]; ok {
		e = &FileExpectation{Rows: n, From: "backup log (" + r.req.Set.LogFile + ")"}
	}
	if r.req.Expect != nil {
		if sum, ok := r.req.Expect.Files[table]; ok {
			if e == nil {
				e = &FileExpectation{From: "confirmed plan"}
			}
			if e.SHA256 == "" {
				e.SHA256 = sum
			} else if e.SHA256 != sum {
				e.SHA256, e.From = sum, "confirmed plan"
			}
		}
	}
	return e
}

// checkExpected refuses to go on when the rows the user approved replacing
// have changed since: a confirmation is for one state of the world.
func (r *run) checkExpected() error {
	if r.req.Expect == nil {
		return nil
	}
	state, err := r.scope.fingerprint(r.ctx, r.tx)
	if err != nil {
		return err
	}
	if state != r.req.Expect.State {
		return apierr.New(apierr.Conflict,
			"the rows this restore would replace changed after the plan was confirmed; nothing was changed; call again without confirm_token to get a new plan").
			With("reason", "state_changed")
	}
	return nil
}

// takeSnapshot saves the rows about to be deleted or overwritten as a
// backup set, in this transaction, so it holds exactly what is replaced.
func (r *run) takeSnapshot(res *schemas.RestoreResult) error {
	if r.req.Snapshot == nil || r.req.DryRun || !r.scope.replaces() {
		return nil
	}
	if n, err := r.scope.liveRows(r.ctx, r.tx); err != nil || n == 0 {
		return err // nothing to save: no set that would only mislead
	}
	// A per-collection snapshot holds both tables' rows of those collections,
	// whatever tables are restored: undoing needs the names' collection rows.
	tables := r.tables
	if r.scope.mode == modeCollections {
		tables = nil
	}
	w, err := backup.Write(r.ctx, r.tx, backup.Request{
		Dir:         r.req.Snapshot.Dir,
		Tables:      tables,
		Collections: r.scope.liveCollections,
		TaskID:      "pre-restore snapshot",
		Database:    r.req.Target,
		DeferLog:    true,
		Snapshot:    true,
	})
	if err != nil {
		return err
	}
	r.snapshot = w
	info := &schemas.SnapshotInfo{
		BackupPath: r.req.Snapshot.BackupPath,
		Timestamp:  w.Timestamp,
		Rows:       map[string]int64{},
		Undo: schemas.RestoreArgs{
			BackupPath: r.req.Snapshot.BackupPath,
			Timestamp:  w.Timestamp,
			Tables:     r.tables,
		},
	}
	for _, t := range w.Manifest.Tables {
		info.Rows[t] = w.Manifest.Files[t].Rows
	}
	switch {
	case len(r.req.Collections) > 0 && len(r.scope.liveCollections) > 0:
		info.Undo.Collections = r.scope.liveCollections
	case len(r.req.Collections) > 0:
		// None of the collections existed: undoing means emptying them,
		// which a restore of the (empty) snapshot cannot express.
		info.Undo.Collections = nil
		info.Undo.TruncateBeforeRestore = false
	default:
		info.Undo.TruncateBeforeRestore = true
	}
	res.Snapshot = info
	return nil
}

// discardSnapshot removes a snapshot written by a restore that then failed:
// the tables still hold those rows, and a set that describes no change would
// only mislead.
func (r *run) discardSnapshot() {
	if r.snapshot == nil {
		return
	}
	backup.Remove(r.snapshot)
}

// truncate empties the selected tables in one statement. A dry run deletes
// instead: DELETE takes no lock that blocks the application's readers.
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
	if r.req.DryRun {
		for i := len(names) - 1; i >= 0; i-- { // embeddings before the collections they reference
			if _, err := r.tx.Exec(r.ctx, "DELETE FROM "+names[i]); err != nil {
				return fmt.Errorf("delete from %s: %w", r.tables[i], err)
			}
		}
	} else {
		sql := "TRUNCATE " + strings.Join(names, ", ")
		if cascade {
			sql += " CASCADE"
		}
		if _, err := r.tx.Exec(r.ctx, sql); err != nil {
			return fmt.Errorf("truncate %s: %w", strings.Join(r.tables, ", "), err)
		}
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
	res.TruncatePerformed = !r.req.DryRun
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

// deleteCollections deletes the live rows of the collections being replaced:
// their embeddings first (with or without the foreign key), then, when the
// collection table is restored too, the collections themselves.
func (r *run) deleteCollections() error {
	if _, err := r.tx.Exec(r.ctx,
		"DELETE FROM langchain_pg_embedding WHERE collection_id IN (SELECT uuid FROM langchain_pg_collection WHERE name = ANY($1))",
		r.req.Collections); err != nil {
		return fmt.Errorf("delete embeddings of collections %v: %w", r.req.Collections, err)
	}
	if !slices.Contains(r.tables, schemas.CollectionTable) {
		return nil
	}
	if _, err := r.tx.Exec(r.ctx, "DELETE FROM langchain_pg_collection WHERE name = ANY($1)", r.req.Collections); err != nil {
		return fmt.Errorf("delete collections %v: %w", r.req.Collections, err)
	}
	return nil
}

// copy streams one source into its table: straight in when a conflict must
// fail the restore, through a staging table when it is skipped or updated.
func (r *run) copy(s *source, done, total int64) (schemas.TableRestoreResult, error) {
	start := time.Now()
	r.current = s
	if r.req.Progress != nil {
		s.onRead = func(read, rows int64) {
			r.req.Progress(Progress{Table: s.table.Name, BytesDone: done + read, BytesTotal: total, Rows: rows})
		}
	}
	staged := r.req.OnConflict != OnConflictError
	into := s.table.Name
	if staged {
		into = "restore_stage"
		if _, err := r.tx.Exec(r.ctx, fmt.Sprintf("CREATE TEMP TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP",
			into, pgx.Identifier{s.table.Name}.Sanitize())); err != nil {
			return schemas.TableRestoreResult{}, fmt.Errorf("create staging table for %s: %w", s.table.Name, err)
		}
	}
	tag, err := r.tx.Conn().PgConn().CopyFrom(r.ctx, s, s.copySQL(into))
	if err != nil {
		if readErr := s.readErr(); readErr != nil {
			return schemas.TableRestoreResult{}, readErr
		}
		return schemas.TableRestoreResult{}, fmt.Errorf("copy %s into %s: %w", s.name(), into, err)
	}
	rows, _, converted := s.counts()
	if tag.RowsAffected() != rows {
		return schemas.TableRestoreResult{}, fmt.Errorf("copy %s into %s: sent %d rows, server stored %d", s.name(), into, rows, tag.RowsAffected())
	}
	written := rows
	if staged {
		if written, err = r.merge(s, into); err != nil {
			return schemas.TableRestoreResult{}, err
		}
	}
	r.current = nil
	return schemas.TableRestoreResult{
		Success:           true,
		SourceFile:        s.name(), // the file's name, as the old service gave it: never a server path
		RowsRestored:      written,
		FileSize:          catalog.HumanSize(s.size),
		FileBytes:         s.size,
		Duration:          time.Since(start).Seconds(),
		MetadataConverted: converted,
		RowsSkipped:       rows - written,
	}, nil
}

// merge moves staged rows into the table, skipping or updating rows whose
// key exists, and drops the stage. It returns the rows written.
func (r *run) merge(s *source, stage string) (int64, error) {
	cols := make([]string, len(s.header))
	for i, h := range s.header {
		cols[i] = pgx.Identifier{h}.Sanitize()
	}
	list := strings.Join(cols, ", ")
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ", pgx.Identifier{s.table.Name}.Sanitize(), list, list, stage)
	conflict, err := r.onConflictClause(s)
	if err != nil {
		return 0, err
	}
	tag, err := r.tx.Exec(r.ctx, sql+conflict)
	if err != nil {
		return 0, fmt.Errorf("merge staged rows into %s: %w", s.table.Name, err)
	}
	if _, err := r.tx.Exec(r.ctx, "DROP TABLE "+stage); err != nil {
		return 0, fmt.Errorf("drop staging table: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (r *run) onConflictClause(s *source) (string, error) {
	if r.req.OnConflict == OnConflictSkip {
		return "ON CONFLICT DO NOTHING", nil
	}
	key := s.table.PrimaryKey
	if len(key) == 0 {
		return "", apierr.New(apierr.SchemaMismatch, "table %s has no primary key, so on_conflict=update cannot tell which row a backup row replaces; use skip or error", s.table.Name).
			With("table", s.table.Name)
	}
	var sets []string
	for _, h := range s.header {
		if !slices.Contains(key, h) {
			id := pgx.Identifier{h}.Sanitize()
			sets = append(sets, id+" = EXCLUDED."+id)
		}
	}
	keys := make([]string, len(key))
	for i, k := range key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	if len(sets) == 0 {
		return "ON CONFLICT DO NOTHING", nil
	}
	return fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(keys, ", "), strings.Join(sets, ", ")), nil
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
