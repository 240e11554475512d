package restore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// rolledBack ends every message about a restore that failed in its
// transaction: it is what the caller most needs to know.
const rolledBack = "the transaction was rolled back and the tables are unchanged"

// restoreError turns err into the contract's error (pgerr does the
// classifying), adding the hint a restore's key conflict needs.
func restoreError(ctx context.Context, err error) *apierr.Error {
	e := apierr.From(pgerr.Classify(ctx, err, "restore"))
	if pg, ok := pgerr.As(err); ok && pg.Code == pgerrcode.UniqueViolation {
		e = e.Extend("to replace the table's rows use truncate_before_restore=true, or on_conflict=skip or update")
	}
	return e
}

// failed is the error of a restore whose transaction was rolled back.
func failed(ctx context.Context, err error) error {
	return restoreError(ctx, err).Extend(rolledBack)
}

// commitFailed reports a failed COMMIT. A deferred constraint fails cleanly
// and PostgreSQL rolled back; a connection lost during COMMIT leaves the
// outcome unknown, and the caller must be told so rather than promised a
// rollback (the snapshot is published: it may describe a change that
// happened).
func (j *job) commitFailed(ctx context.Context, err error) error {
	if _, answered := pgerr.As(err); answered {
		j.discardSnapshot()
		return failed(ctx, err)
	}
	if j.snapshot != nil && j.snapshot.Publish(ctx) != nil {
		j.snapshot.Discard()
	}
	return apierr.Wrap(apierr.DatabaseError, err,
		"the connection failed during COMMIT (%v), so whether the restore was applied is unknown; compare the tables' row counts with the backup before retrying", err).
		With("reason", "commit_unknown")
}

// copyLineOf finds the line number in the context PostgreSQL gives a COPY
// error into table, which has no field of its own. The context is
// translated with the server's lc_messages ("COPY t, line 3", "COPY t,
// Zeile 3", "COPY t, ligne 3", "tのCOPY、行 3"), so no word of it is
// relied on: every translation names the table, says COPY, and gives the
// line as the first number after them (the column, when given, comes
// later). The table's name is taken out first, as it may hold digits.
func copyLineOf(where, table string) (int64, bool) {
	rest := strings.ReplaceAll(where, table, "")
	i := strings.LastIndex(rest, "COPY") // the outermost context is the last line
	if i < 0 {
		return 0, false
	}
	rest = rest[i+len("COPY"):]
	start := strings.IndexAny(rest, "0123456789")
	if start < 0 {
		return 0, false
	}
	end := start
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(rest[start:end], 10, 64)
	return n, err == nil
}

// rowRejected reports a row PostgreSQL refused during COPY by its line in
// the backup file.
func rowRejected(ctx context.Context, pg *pgconn.PgError, table string, file *backupfile.Reader, keep func([]csvstream.Field) bool, binary bool) *apierr.Error {
	where := file.Name() + ": PostgreSQL rejected a row"
	var line int
	// A binary COPY file has no lines: its rows are named by number.
	unit := "line"
	if file.Format() != layout.FormatCSV {
		unit = "record"
	}
	if n, ok := copyLineOf(pg.Where, table); ok {
		if l, err := fileLine(ctx, file.Source(), n, keep, binary); err == nil {
			line = l
			where = fmt.Sprintf("%s %s %d: PostgreSQL rejected the row", file.Name(), unit, l)
		}
	}
	e := apierr.Wrap(apierr.BackupCorrupt, pg, "%s: %s", where, pg.Message).
		With("file", file.Name()).With("reason", pg.Message).With("sqlstate", pg.Code)
	if line > 0 {
		e.With(unit, line)
	}
	if pg.ColumnName != "" {
		e.With("column", pg.ColumnName)
	}
	return e
}

// fileLine maps a COPY error's line to the backup file's physical line (a
// binary COPY file's record number).
// PostgreSQL counts the lines of the data it received: in CSV, one per
// record plus one per LF inside quoted fields; in binary, one per record.
// The data sent differs from the file in row ends, header and filtered
// rows, so the file is reread, counting the same way over the records keep
// lets through. Only called on the error path.
func fileLine(ctx context.Context, f store.Object, copyLine int64, keep func([]csvstream.Field) bool, binary bool) (int, error) {
	r, err := backupfile.Open(ctx, f, backupfile.AllText)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	start := int64(1)
	for {
		rec, err := r.Next()
		if err != nil {
			return 0, err
		}
		if keep != nil && !keep(rec) {
			continue
		}
		end := start
		for _, f := range rec {
			if binary {
				break
			}
			end += int64(bytes.Count(f.Value, []byte{'\n'}))
		}
		if copyLine <= end {
			return r.Line(), nil
		}
		start = end + 1
	}
}
