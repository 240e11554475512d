package service

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Inspect reads a set fully and checks it against the target database,
// changing nothing. An unreachable database is a problem in the report, not
// a failure: the files are still worth knowing about.
func (s *Service) Inspect(ctx context.Context, args schemas.InspectArgs) (*schemas.InspectResult, error) {
	dir, err := s.Catalog.Resolve(args.BackupPath)
	if err != nil {
		return nil, err
	}
	set, err := s.Catalog.FindSet(dir, args.Timestamp)
	if err != nil {
		return nil, err
	}
	db, err := s.Policy.Resolve(args.DBConnection)
	if err != nil {
		return nil, err
	}
	var conn *pgx.Conn
	if conn, err = db.Connect(ctx); err != nil {
		if apierr.TypeOf(err) == apierr.Cancelled {
			return nil, err
		}
		s.logger().Warn("inspect without the target database", "target", db.Name, "err", err)
		conn = nil
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
	}
	return restore.Inspect(ctx, conn, restore.Request{
		Set:         set,
		BackupPath:  args.BackupPath,
		Tables:      args.Tables,
		Truncate:    args.TruncateBeforeRestore,
		Collections: args.Collections,
		OnConflict:  args.OnConflict,
		Target:      db.Name,
		Snapshot:    s.snapshotTarget(),
	})
}

// snapshotTarget is where restores save the rows they replace.
func (s *Service) snapshotTarget() *restore.SnapshotTarget {
	dir := s.Catalog.GlobalDir()
	return &restore.SnapshotTarget{Dir: dir, BackupPath: s.Catalog.RelativePath(dir)}
}
