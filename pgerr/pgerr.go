// Package pgerr turns what PostgreSQL and the connection to it return into
// the contract's errors, in one place: by SQLSTATE (named, through
// pgerrcode) and by error type, never by message text.
package pgerr

import (
	"context"
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Classify returns err as an apierr error saying what failed while doing
// (a phrase: "restore", "write the backup"). An apierr error passes as it
// is; otherwise:
//   - the caller's context ended: CANCELLED;
//   - PostgreSQL refused a key (unique or foreign): CONFLICT, with the
//     constraint's table, name and detail;
//   - a lock wait ran out (lock_timeout): CONFLICT;
//   - PostgreSQL cancelled the statement: CANCELLED;
//   - any other PostgreSQL error: DATABASE_ERROR with its SQLSTATE;
//   - no answer from PostgreSQL (a lost connection): DATABASE_ERROR.
func Classify(ctx context.Context, err error, doing string) error {
	if err == nil {
		return nil
	}
	if e, ok := apierr.As(err); ok {
		return e
	}
	if ctx.Err() != nil {
		return apierr.Wrap(apierr.Cancelled, err, "the %s was cancelled", doing)
	}
	pg, ok := As(err)
	if !ok {
		return apierr.Wrap(apierr.DatabaseError, err,
			"lost the database connection during the %s (%v); check the database is up and retry", doing, err).
			With("reason", "connection_lost")
	}
	switch pg.Code {
	case pgerrcode.UniqueViolation:
		return apierr.Wrap(apierr.Conflict, err, "%s: %s in %s", pg.Message, pg.Detail, pg.TableName).
			With("table", pg.TableName).With("constraint", pg.ConstraintName).With("detail", pg.Detail).With("sqlstate", pg.Code)
	case pgerrcode.ForeignKeyViolation:
		return apierr.Wrap(apierr.Conflict, err, "%s (%s): the embeddings reference collections the target lacks; restore %s too",
			pg.Message, pg.Detail, "langchain_pg_collection").
			With("table", pg.TableName).With("constraint", pg.ConstraintName).With("detail", pg.Detail).With("sqlstate", pg.Code)
	case pgerrcode.LockNotAvailable:
		return apierr.Wrap(apierr.Conflict, err,
			"the %s could not get a lock within the time allowed (%s): another session holds it; retry when it is done, or allow a longer wait (--lock-timeout)", doing, pg.Message).
			With("reason", "lock_timeout").With("sqlstate", pg.Code)
	case pgerrcode.QueryCanceled:
		return apierr.Wrap(apierr.Cancelled, err, "the database cancelled the %s (%s)", doing, pg.Message).With("sqlstate", pg.Code)
	}
	return apierr.Wrap(apierr.DatabaseError, err, "database error %s during the %s: %s", pg.Code, doing, pg.Message).
		With("sqlstate", pg.Code)
}

// As returns the PostgreSQL error in err's chain: PostgreSQL answered.
func As(err error) (*pgconn.PgError, bool) {
	var pg *pgconn.PgError
	ok := errors.As(err, &pg)
	return pg, ok
}

// RowRejected reports whether PostgreSQL refused a row's data (a bad value,
// a violated constraint other than a key), which a restore blames on the
// backup file's row.
func RowRejected(err error) bool {
	pg, ok := As(err)
	if !ok || pg.Code == pgerrcode.UniqueViolation || pg.Code == pgerrcode.ForeignKeyViolation {
		return false
	}
	return pgerrcode.IsDataException(pg.Code) || pgerrcode.IsIntegrityConstraintViolation(pg.Code)
}
