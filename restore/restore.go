// Package restore replaces rows of LangChain's PGVector tables with a backup
// set's, in one PostgreSQL transaction: it takes the locks, works out which
// live rows are in scope, saves them as a snapshot, empties or deletes them,
// and streams each file into COPY. A restore completes or leaves the tables
// exactly as they were.
//
// Reading and checking the files is backupfile's job; this package adapts
// its records to COPY (copy.go). It returns its own result and plan types:
// the front ends' wire types are service's business.
package restore

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// On-conflict policies for appended rows.
const (
	OnConflictError  = "error"
	OnConflictSkip   = "skip"
	OnConflictUpdate = "update"
)

// Request says what to restore.
type Request struct {
	Set catalog.Set
	// Files are Set's files, opened by the caller before any lock (see
	// catalog.Files); Run and MakePlan open them when nil.
	Files       *catalog.Files
	Tables      []string // subset of layout.Tables(); empty means the set's tables
	Truncate    bool
	Collections []string      // replace only these collections, by name
	OnConflict  string        // OnConflictError (default), OnConflictSkip or OnConflictUpdate
	DryRun      bool          // do everything, then roll back
	Database    string        // password-free name of the target, written into snapshots
	Source      layout.Source // the target's host and port as connected to, written into snapshots

	// OtherDatabase restores a snapshot into a database other than the one
	// it was taken from, which is refused otherwise: an undo must land
	// where the rows came from.
	OtherDatabase bool

	// Online replaces the rows in scope without blocking the application's
	// readers: DELETE rather than TRUNCATE, under a lock that stops
	// writers only. Readers see the old rows until the commit, then the
	// new ones; the tables are analyzed after the commit, and autovacuum
	// reclaims the replaced rows.
	Online bool

	// LockWait bounds each wait for a lock (DefaultLockWait when zero);
	// Waiting, when set, is told what the restore waits for.
	LockWait time.Duration
	Waiting  func(what string)

	// SnapshotDir, when set, is the folder where the rows about to be
	// replaced are saved as a backup set first, inside the restore's
	// transaction.
	SnapshotDir string
	// BackupRoot is the store SnapshotDir lies in (a key in it): the
	// snapshot is written through it, never outside the root.
	BackupRoot store.Store

	// Expect, from a confirmation, is the world the person approved:
	// checked under the lock before anything changes, and each file's
	// checksum when it ends.
	Expect *Binding

	// BeforeCommit, when set, runs last in the transaction, after every
	// row is in and before COMMIT (not in a dry run): its error rolls the
	// restore back. A confirmation token is spent here, so that a token is
	// spent exactly when its restore commits, and a spend that cannot be
	// recorded stops the commit.
	BeforeCommit func() error

	// Progress, when set, is called as the files stream: bytes read of
	// both files together, and rows sent from table's file so far.
	Progress func(table string, bytesDone, bytesTotal, rows int64)

	// IndexMemory is maintenance_work_mem for rebuilding the vector
	// indexes a truncating restore drops before its load (such as 2GB);
	// empty: DefaultIndexMemory, or the server's own when higher.
	IndexMemory string
	// IndexProgress, when set, is told how each index build goes (its
	// phase, and tuples or blocks done of total), read on a connection
	// Watch opens: the restore's own is busy building.
	IndexProgress func(index, phase string, done, total int64)
	Watch         func(ctx context.Context) (*pgx.Conn, error)
}

// Binding is the world a confirmed plan was made for: the live rows it
// replaces and the files it reads.
type Binding struct {
	State string            // fingerprint of the rows to be replaced
	Files map[string]string // table → SHA-256 of its file
}

// Result is what a restore did.
type Result struct {
	RestorePerformed  bool // rows were written and committed
	TruncatePerformed bool
	TruncateResults   map[string]TruncateResult // by table, in truncate mode
	RestoreResults    map[string]TableResult    // by table
	Collections       []string                  // collections replaced, in collections mode
	Snapshot          *Snapshot                 // the replaced rows, saved; nil when none were
	Errors            []string                  // what went wrong after the commit, the restore itself being done
	DryRun            bool
	Online            bool
	Duration          time.Duration // until the commit
	LockWait          time.Duration // taking the locks (locks.go), a part of Duration
	Finished          time.Time
	Analyze           time.Duration // ANALYZE after an online restore
	Indexes           []string      // vector indexes dropped before the load and built again after it
	IndexBuild        time.Duration // building them
	IndexMemory       string        // maintenance_work_mem they were built with
}

// TruncateResult is one table emptied.
type TruncateResult struct {
	RowsBefore, RowsAfter int64
	Duration              time.Duration
}

// TableResult is one file copied into its table.
type TableResult struct {
	File              string // the file's name, never a server path
	FileBytes         int64
	RowsRestored      int64 // rows written (not the table's count)
	RowsSkipped       int64 // rows on_conflict=skip left out
	MetadataConverted int64 // rows whose legacy Python dict text became JSON
	Duration          time.Duration
}

// Snapshot is the backup set holding the rows a restore replaced.
type Snapshot struct {
	Dir       string
	Timestamp string
	Source    *layout.Source   // the database the rows came from
	Rows      map[string]int64 // saved per table
	Bytes     int64            // of its data files, as written
	Undo      Undo
}

// Undo is how to restore the snapshot so that the restore is undone: into
// the same database, in the same mode.
type Undo struct {
	Tables      []string
	Truncate    bool
	Collections []string
	Online      bool
}

// Run restores req.Set into the database behind conn. On any error, and
// after a dry run, the transaction is rolled back and the tables are as they
// were.
func Run(ctx context.Context, conn *pgx.Conn, req Request) (*Result, error) {
	start := time.Now()
	done, err := req.open(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	j, err := prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, failed(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op after Commit

	res, err := j.execute(ctx, tx)
	if err == nil && req.BeforeCommit != nil && !req.DryRun {
		err = req.BeforeCommit()
	}
	if err != nil {
		j.discardSnapshot()
		return nil, failed(ctx, err)
	}
	if req.DryRun {
		if err := tx.Rollback(ctx); err != nil {
			return nil, failed(ctx, err)
		}
	} else if err := tx.Commit(ctx); err != nil {
		return nil, j.commitFailed(ctx, err)
	}
	res.Duration, res.Finished, res.LockWait = time.Since(start), time.Now(), j.lockWaited
	j.publishSnapshot(ctx, res)
	j.analyze(ctx, conn, res)
	return res, nil
}

// analyze refreshes the planner's statistics after an online restore
// committed, so that the application's next queries are planned for the new
// rows: best effort, outside the transaction, never blocking the
// application. The deleted rows are left to autovacuum, like any
// application's deletes: a VACUUM inside the call scanned the table and
// every index again, an HNSW index included, and made an online restore
// cost twice a truncating one (3.52 s against 1.58 s at 20,000 x 1,024).
func (j *job) analyze(ctx context.Context, conn *pgx.Conn, res *Result) {
	if !j.req.Online || j.req.DryRun || j.scope.mode == modeAppend {
		return
	}
	start := time.Now()
	defer func() { res.Analyze = time.Since(start) }()
	for _, t := range j.tables {
		if _, err := conn.Exec(ctx, "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("the restore is complete, but ANALYZE %s afterwards failed (%v); run it later so that queries are planned for the new rows", t, err))
			return
		}
	}
}

// ReadOnly runs fn in a read-only REPEATABLE READ transaction: one snapshot
// of the tables, and no lock that blocks the application. Plan and Describe
// run in it; an error fn returns is classified as a restore's would be.
func ReadOnly(ctx context.Context, conn *pgx.Conn, fn func(tx pgx.Tx) error) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return restoreError(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return restoreError(ctx, err)
	}
	return nil
}

// job is one restore's request, checked, with what it learns on the way.
type job struct {
	req      Request
	tables   []string
	manifest *layout.Manifest
	scope    scope
	snapshot *backup.Written // written in this transaction; removed if it fails

	// keptCollections: an online restore deleted only the collections the
	// backup lacks; the backup's rows update the others in place.
	keptCollections bool

	building atomic.Pointer[string] // the index being built, for watchBuild

	lockWaited time.Duration // how long lock took to get every lock
}

// open opens the set's files unless the caller did, before any lock is
// taken; done closes what it opened.
func (req *Request) open(ctx context.Context) (done func(), err error) {
	if req.Files != nil {
		return func() {}, nil
	}
	if req.Files, err = req.Set.Open(ctx); err != nil {
		return nil, err
	}
	return func() { req.Files.Close() }, nil
}

// prepare checks the options that need no database.
func prepare(ctx context.Context, req Request) (*job, error) {
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
	j := &job{req: req}
	var err error
	if req.Files != nil {
		j.manifest = req.Files.Manifest()
	} else if j.manifest, err = req.Set.Manifest(ctx); err != nil {
		return nil, err
	}
	requested := req.Tables
	if len(requested) == 0 && j.manifest != nil {
		requested = j.manifest.Tables
	}
	if j.tables, err = SelectTables(requested); err != nil {
		return nil, err
	}
	if err := j.checkAgainstManifest(); err != nil {
		return nil, err
	}
	if len(req.Collections) > 0 && !slices.Contains(j.tables, layout.EmbeddingTable) {
		return nil, apierr.New(apierr.InvalidParams,
			"restoring collections without %s would delete or orphan those collections' embeddings; include both tables (omit tables)",
			layout.EmbeddingTable).With("param", "tables")
	}
	return j, nil
}

// checkAgainstManifest refuses tables the set holds no rows of, and a
// truncate of a set that holds only some collections.
func (j *job) checkAgainstManifest() error {
	m := j.manifest
	if m == nil {
		return nil
	}
	if len(m.Collections) > 0 && j.req.Truncate {
		// Such a set (a per-collection snapshot) lacks every other
		// collection: a truncate would delete them.
		return apierr.New(apierr.InvalidParams,
			"this set holds only collections %v; restore it with collections=%v instead of truncate_before_restore, which would delete every other collection",
			m.Collections, m.Collections).With("param", "truncate_before_restore")
	}
	for _, t := range j.tables {
		if !slices.Contains(m.Tables, t) {
			return apierr.New(apierr.InvalidParams, "this set holds no rows of %s (it was backed up with tables %v); leave %s out of tables",
				t, m.Tables, t).With("param", "tables")
		}
	}
	return nil
}

// SelectTables validates the requested tables and puts them in restore order;
// none means both.
func SelectTables(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return layout.Tables(), nil
	}
	for _, t := range requested {
		if !slices.Contains(layout.Tables(), t) {
			return nil, apierr.New(apierr.InvalidParams, "unknown table %q; tables may name %s and %s", t, layout.CollectionTable, layout.EmbeddingTable).
				With("param", "tables")
		}
	}
	var out []string
	for _, t := range layout.Tables() {
		if slices.Contains(requested, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Validate checks req's options against its set, needing no database, and
// returns the tables it restores, in order.
func Validate(ctx context.Context, req Request) ([]string, error) {
	j, err := prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	return j.tables, nil
}
