package service

import (
	"context"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/target"
)

// Inspect reads a set fully and checks it against the target database,
// changing nothing. An unreachable database is a problem in the report, not
// a failure: the files are still worth knowing about.
func (s *Service) Inspect(ctx context.Context, args schemas.InspectArgs) (*schemas.InspectResult, error) {
	set, db, err := s.resolve(args.BackupPath, args.Timestamp, args.DBConnection)
	if err != nil {
		return nil, err
	}
	conn, connErr := db.Connect(ctx)
	if connErr != nil {
		if apierr.TypeOf(connErr) == apierr.Cancelled {
			return nil, connErr
		}
		s.logger().Warn("inspect without the target database", "target", db.Name, "err", connErr)
		conn = nil
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
	}
	res, err := restore.Inspect(ctx, conn, restore.Request{
		Set:         set,
		BackupPath:  args.BackupPath,
		Tables:      args.Tables,
		Truncate:    args.TruncateBeforeRestore,
		Collections: args.Collections,
		OnConflict:  args.OnConflict,
		Target:      db.Name,
		Snapshot:    s.snapshotTarget(),
	})
	if err == nil && connErr != nil {
		// Connect's message names the database and the cause, never a password.
		res.Problems = append(res.Problems, apierr.MessageOf(connErr)+"; the set was read, but not checked against the target database")
	}
	return res, err
}

// resolve finds the set a call names and the database it may use.
func (s *Service) resolve(backupPath, timestamp, dbConnection string) (catalog.Set, *target.Database, error) {
	dir, err := s.Catalog.Resolve(backupPath)
	if err != nil {
		return catalog.Set{}, nil, err
	}
	set, err := s.Catalog.FindSet(dir, timestamp)
	if err != nil {
		return catalog.Set{}, nil, err
	}
	db, err := s.Policy.Resolve(dbConnection)
	if err != nil {
		return catalog.Set{}, nil, err
	}
	return set, db, nil
}

// snapshotTarget is where restores save the rows they replace.
func (s *Service) snapshotTarget() *restore.SnapshotTarget {
	dir := s.Catalog.GlobalDir()
	return &restore.SnapshotTarget{Dir: dir, BackupPath: s.Catalog.RelativePath(dir)}
}
