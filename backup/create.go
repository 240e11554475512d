package backup

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/dblock"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// Create writes a new set of the live tables behind conn, both as of one
// instant: a REPEATABLE READ snapshot taken after any running restore.
func Create(ctx context.Context, conn *pgx.Conn, req Request) (*Written, error) {
	// A TRUNCATE that commits after the snapshot's first statement makes
	// the tables look empty to it: wait for running restores first.
	release, err := dblock.Shared(ctx, conn)
	if err != nil {
		return nil, pgerr.Classify(ctx, err, "wait for a running restore")
	}
	defer release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, pgerr.Classify(ctx, err, "backup")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	w, err := Write(ctx, tx, req)
	if err != nil {
		return nil, pgerr.Classify(ctx, err, "backup")
	}
	return w, nil
}
