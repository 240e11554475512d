package backup

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// LockKey is the advisory lock that orders a database's restores and
// backups: every restore holds it exclusively for its transaction, every
// backup shared for its snapshot. Two restores never interleave, and a
// backup never sees half a restore. Advisory locks are per database, which
// is exactly the scope wanted.
const LockKey int64 = 0x7665_6374_6f72_6273 // "vectorbs"

// Create writes a new set of the live tables behind conn, both as of one
// instant: a REPEATABLE READ snapshot taken after any running restore.
func Create(ctx context.Context, conn *pgx.Conn, req Request) (*Written, error) {
	// A REPEATABLE READ snapshot is fixed by its first statement, and a
	// TRUNCATE that commits after it makes the tables look empty to it. So
	// the wait for a running restore is a session lock, taken before the
	// transaction begins.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", LockKey); err != nil {
		return nil, pgerr.Classify(ctx, err, "wait for a running restore")
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_shared($1)", LockKey)
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
