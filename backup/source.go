package backup

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Identify completes conn, the host and port a session connected to, with
// what the server says of itself: its cluster's system identifier (when the
// role may read pg_control_system(), which a plain role may not on every
// server) and the database's name. Snapshots record it, and restores of
// snapshots check it, so that an undo never lands in another database.
func Identify(ctx context.Context, tx pgx.Tx, conn layout.Source) (*layout.Source, error) {
	src := conn
	var mayRead bool
	if err := tx.QueryRow(ctx, `SELECT current_database(), has_function_privilege('pg_control_system()', 'EXECUTE')`).Scan(&src.Database, &mayRead); err != nil {
		return nil, fmt.Errorf("identify the database: %w", err)
	}
	if mayRead {
		if err := tx.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&src.SystemIdentifier); err != nil {
			return nil, fmt.Errorf("identify the database: %w", err)
		}
	}
	return &src, nil
}
