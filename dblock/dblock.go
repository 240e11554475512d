// Package dblock owns the advisory lock that orders one database's restores
// and backups: every restore holds it exclusively for its transaction, every
// backup shared while it takes its snapshot. Two restores never interleave,
// and a backup never sees half a restore. Advisory locks are per database,
// which is exactly the scope wanted.
package dblock

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Key is the advisory lock's key ("vectorbs").
const Key int64 = 0x7665_6374_6f72_6273

// ExclusiveInTx is the statement a restore runs to take the lock until its
// transaction ends; $1 is Key. The restore runs it itself, to bound and
// report the wait.
const ExclusiveInTx = "SELECT pg_advisory_xact_lock($1)"

// Shared waits until no restore of conn's database runs, and holds the lock
// shared on conn's session until release is called. It is a session lock,
// not a transaction lock: a REPEATABLE READ snapshot is fixed by its first
// statement, so the wait must end before that transaction begins.
func Shared(ctx context.Context, conn *pgx.Conn) (release func(), err error) {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", Key); err != nil {
		return nil, err
	}
	return func() {
		conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_shared($1)", Key)
	}, nil
}
