package service

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Create writes a new backup set from the live tables.
func (s *Service) Create(ctx context.Context, args schemas.CreateArgs) (*schemas.CreateResult, error) {
	start := time.Now()
	dir := s.Catalog.GlobalDir()
	if args.TaskID != "" {
		var err error
		if dir, err = s.Catalog.TaskDir(args.TaskID); err != nil {
			return nil, err
		}
	}
	if _, err := restore.SelectTables(args.Tables); err != nil {
		return nil, err
	}
	db, err := s.Policy.Resolve(args.DBConnection)
	if err != nil {
		return nil, err
	}
	log := s.logger().With("op", "backup", "dir", dir, "source", db.Name)
	conn, err := db.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// Wait for a running restore before the snapshot is taken: a
	// REPEATABLE READ snapshot is fixed by its first statement, and a
	// TRUNCATE that commits after it makes the tables look empty to it. So
	// the lock is a session lock, taken before the transaction begins.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", restore.LockKey); err != nil {
		return nil, dbError(ctx, err, "wait for a running restore")
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_shared($1)", restore.LockKey)
	// One snapshot of both tables, so both files describe one instant.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, apierr.Wrap(apierr.DatabaseError, err, "cannot start the backup transaction on %s: %v", db.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	w, err := backup.Write(ctx, tx, backup.Request{Dir: dir, Tables: args.Tables, TaskID: args.TaskID, Database: db.Name})
	if err != nil {
		log.Warn("backup failed", "err", err)
		return nil, dbError(ctx, err, "write the backup")
	}
	res := &schemas.CreateResult{
		BackupPerformed: true,
		BackupDirectory: s.Catalog.RelativePath(dir),
		Timestamp:       w.Timestamp,
		Source:          db.Name,
		ManifestFile:    backup.ManifestName(w.Timestamp),
		TablesBackedUp:  map[string]schemas.TableBackupResult{},
		Errors:          []string{},
		Duration:        time.Since(start).Seconds(),
	}
	for _, table := range w.Manifest.Tables {
		f := w.Manifest.Files[table]
		res.TablesBackedUp[table] = schemas.TableBackupResult{
			Success:    true,
			RowCount:   f.Rows,
			FileSize:   catalog.HumanSize(f.Bytes),
			FileBytes:  f.Bytes,
			BackupFile: f.File,
			SHA256:     f.SHA256,
			Duration:   w.Duration.Seconds(),
		}
	}
	if w.LogError != nil {
		res.Errors = append(res.Errors, "the set is complete, but the folder's backup log could not be updated: "+w.LogError.Error())
	}
	log.Info("backup written", "timestamp", w.Timestamp, "duration", res.Duration)
	return res, nil
}

// dbError keeps apierr errors and reports others as a cancelled call or a
// database failure.
func dbError(ctx context.Context, err error, doing string) error {
	if _, ok := apierr.As(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return apierr.Wrap(apierr.Cancelled, err, "cancelled while trying to %s; nothing was written", doing)
	}
	return apierr.Wrap(apierr.DatabaseError, err, "cannot %s: %v", doing, err)
}
