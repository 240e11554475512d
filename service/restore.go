package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Restore restores one backup set, all or nothing.
func (s *Service) Restore(ctx context.Context, args schemas.RestoreArgs, progress Progress) (*schemas.RestoreResult, error) {
	if err := requireRestoreParams(args); err != nil {
		return nil, err
	}
	if args.DBConnection != "" && args.PgConn != "" && args.DBConnection != args.PgConn {
		return nil, apierr.New(apierr.InvalidParams, "db_connection and pg_conn name different databases; pg_conn is a legacy alias, pass only db_connection").
			With("param", "pg_conn")
	}
	dir, err := s.Catalog.Resolve(args.BackupPath)
	if err != nil {
		return nil, err
	}
	set, err := s.Catalog.FindSet(dir, args.Timestamp)
	if err != nil {
		return nil, err
	}
	db, err := s.Policy.Resolve(args.Connection())
	if err != nil {
		return nil, err
	}
	log := s.logger().With("op", "restore", "set", set.Timestamp, "dir", dir, "target", db.Name)
	log.Info("restore starting", "tables", args.Tables, "truncate", args.TruncateBeforeRestore)

	conn, err := db.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	res, err := restore.Run(ctx, conn, restore.Request{
		Set:        set,
		BackupPath: args.BackupPath,
		Tables:     args.Tables,
		Truncate:   args.TruncateBeforeRestore,
		Target:     db.Name,
		Progress:   throttle(progress, 200*time.Millisecond),
	})
	if err != nil {
		log.Warn("restore failed, rolled back", "error_type", apierr.TypeOf(err), "err", err)
		return nil, err
	}
	log.Info("restore committed", restoredAttrs(res)...)
	return res, nil
}

func restoredAttrs(res *schemas.RestoreResult) []any {
	attrs := []any{"duration", res.Duration}
	for table, r := range res.RestoreResults {
		attrs = append(attrs, slog.Int64(table, r.RowsRestored))
	}
	return attrs
}

// throttle turns restore progress into at most one report per interval (and
// always the last), so a fast restore does not flood the client.
func throttle(p Progress, every time.Duration) func(restore.Progress) {
	if p == nil {
		return nil
	}
	var last time.Time
	return func(rp restore.Progress) {
		now := time.Now()
		if rp.BytesDone < rp.BytesTotal && now.Sub(last) < every {
			return
		}
		last = now
		p(float64(rp.BytesDone), float64(rp.BytesTotal),
			fmt.Sprintf("%s: %d rows read", rp.Table, rp.Rows))
	}
}

// requireRestoreParams checks the required arguments for callers that
// bypass schema validation (the command line).
func requireRestoreParams(args schemas.RestoreArgs) error {
	var missing []string
	if args.BackupPath == "" {
		missing = append(missing, "backup_path")
	}
	if args.Timestamp == "" {
		missing = append(missing, "timestamp")
	}
	if len(missing) > 0 {
		return apierr.MissingParams(missing...)
	}
	return nil
}
