package service

import (
	"context"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Create writes a new backup set from the live tables.
func (s *Service) Create(ctx context.Context, args schemas.CreateArgs) (*schemas.CreateResult, error) {
	start := time.Now()
	dir := s.Catalog.GlobalDir()
	if args.TaskID != "" {
		var err error
		if dir, err = s.Catalog.TaskDir(ctx, args.TaskID); err != nil {
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
	w, err := backup.Create(ctx, conn, backup.Request{Store: s.Catalog.Store, Dir: dir, Tables: args.Tables, TaskID: args.TaskID, Database: db.Name})
	if err != nil {
		log.WarnContext(ctx, "backup failed", "err", err)
		return nil, s.createRecorded(ctx, args, dir, db.Name, start, nil, err)
	}
	res := &schemas.CreateResult{
		BackupPerformed: true,
		BackupDirectory: s.Catalog.RelativePath(dir),
		Timestamp:       w.Timestamp,
		Source:          db.Name,
		ManifestFile:    w.ManifestFile,
		TablesBackedUp:  map[string]schemas.TableBackupResult{},
		Errors:          []string{},
		Duration:        time.Since(start).Seconds(),
	}
	for _, table := range w.Manifest.Tables {
		f := w.Manifest.Files[table]
		res.TablesBackedUp[table] = schemas.TableBackupResult{
			Success:    true,
			RowCount:   f.Rows,
			FileSize:   layout.HumanSize(f.Bytes),
			FileBytes:  f.Bytes,
			BackupFile: f.File,
			SHA256:     f.SHA256,
			Duration:   w.Duration.Seconds(),
		}
	}
	if w.LogError != nil {
		res.Errors = append(res.Errors, "the set is complete, but the folder's backup log could not be updated: "+w.LogError.Error())
	}
	log.InfoContext(ctx, "backup written", "timestamp", w.Timestamp, "duration", res.Duration)
	return res, s.createRecorded(ctx, args, dir, db.Name, start, res, nil)
}
