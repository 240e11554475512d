package restore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// rolledBack ends every message about a failed restore: it is what the caller
// most needs to know.
const rolledBack = "the transaction was rolled back and the tables are unchanged"

// classify turns err into an apierr.Error with a message that says what went
// wrong, where, and what to do. src is the file being copied, if any.
func classify(ctx context.Context, err error, src *source) error {
	if e, ok := apierr.As(err); ok {
		return e
	}
	if ctx.Err() != nil {
		return apierr.Wrap(apierr.Cancelled, err, "the restore was cancelled; %s", rolledBack)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return apierr.Wrap(apierr.DatabaseError, err,
			"lost the database connection during the restore (%v); PostgreSQL rolls back an unfinished transaction, so the tables are unchanged; check the database is up and retry", err)
	}
	switch {
	case pgErr.Code == "23505":
		return apierr.Wrap(apierr.Conflict, err,
			"%s: %s in %s; %s. To replace the table's rows use truncate_before_restore=true",
			pgErr.Message, pgErr.Detail, pgErr.TableName, rolledBack).
			With("table", pgErr.TableName).With("constraint", pgErr.ConstraintName).With("detail", pgErr.Detail)
	case pgErr.Code == "23503":
		return apierr.Wrap(apierr.Conflict, err,
			"%s (%s): the embeddings reference collections the target lacks; restore langchain_pg_collection too; %s",
			pgErr.Message, pgErr.Detail, rolledBack).
			With("table", pgErr.TableName).With("constraint", pgErr.ConstraintName).With("detail", pgErr.Detail)
	case pgErr.Code == "57014":
		return apierr.Wrap(apierr.Cancelled, err, "the database cancelled the restore (%s); %s", pgErr.Message, rolledBack)
	case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23") && src != nil:
		return rowRejected(pgErr, src)
	}
	return apierr.Wrap(apierr.DatabaseError, err, "database error %s: %s; %s", pgErr.Code, pgErr.Message, rolledBack).
		With("sqlstate", pgErr.Code)
}

// unchanged makes sure a failed restore's message says the tables are as
// they were: the first thing an operator needs to know.
func unchanged(err error) error {
	e, ok := apierr.As(err)
	if !ok || e.Type == apierr.DatabaseError && strings.Contains(e.Message, "unknown") {
		return err
	}
	if !strings.Contains(e.Message, "unchanged") && !strings.Contains(e.Message, "nothing was") {
		e.Message += "; " + rolledBack
	}
	return e
}

var copyLine = regexp.MustCompile(`, line (\d+)`)

// rowRejected reports a row PostgreSQL refused during COPY by its file line.
func rowRejected(pgErr *pgconn.PgError, src *source) error {
	e := apierr.Wrap(apierr.BackupCorrupt, pgErr, "%s: PostgreSQL rejected a row: %s; %s", src.name(), pgErr.Message, rolledBack).
		With("file", src.name()).With("reason", pgErr.Message)
	if m := copyLine.FindStringSubmatch(pgErr.Where); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if line, err := fileLine(src.path, n, src.keep); err == nil {
			e.Message = fmt.Sprintf("%s line %d: PostgreSQL rejected the row: %s; %s", src.name(), line, pgErr.Message, rolledBack)
			e.With("line", line)
		}
	}
	if pgErr.ColumnName != "" {
		e.With("column", pgErr.ColumnName)
	}
	return e
}

// commitError reports a failed COMMIT. A deferred constraint fails cleanly;
// a connection lost during COMMIT leaves the outcome unknown, and the caller
// must be told so rather than promised a rollback.
func commitError(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classify(ctx, err, nil)
	}
	return apierr.Wrap(apierr.DatabaseError, err,
		"the connection failed during COMMIT, so whether the restore was applied is unknown; compare the tables' row counts with the backup before retrying")
}
