package backupfile

import (
	"errors"
	"fmt"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/legacyjson"
)

// A Reader holds one record at a time, so these bounds are what one Reader
// may hold whatever the file: about MaxRecordBytes for the record as read,
// and for the record made ready at most twice each JSON field (see
// legacyjson's limits) and, in binary form, twice the vector's text.
// Real rows are far smaller: a 1,536-dimension vector is about 20 KB of
// text, documents at most a few MB, metadata a few hundred bytes.
const (
	// MaxFieldBytes bounds one field of a backup file. Documents are SQL,
	// DDL and prose; a larger field is refused rather than held in memory.
	MaxFieldBytes = 16 << 20

	// MaxRecordBytes bounds one data row, the sum of its fields' unescaped
	// lengths: twice MaxFieldBytes, so that any row with one field at its
	// limit still fits, while a row of many fields each under the limit
	// cannot add up to more memory than that.
	MaxRecordBytes = 32 << 20

	// maxHeaderColumns and maxHeaderBytes bound the header row, read before
	// anything says how wide a row may be. Both leave room for any
	// PostgreSQL table: at most 1,600 columns, with names of at most 63
	// bytes (under 100 KiB in all).
	maxHeaderColumns = 4096
	maxHeaderBytes   = 128 << 10
)

// headerError describes a header that cannot be read.
func (r *Reader) headerError(err error) error {
	var pe *csvstream.ParseError
	switch {
	case !errors.As(err, &pe):
		return r.parseError(err)
	case errors.Is(err, csvstream.ErrTooManyFields):
		return apierr.Wrap(apierr.BackupCorrupt, err,
			"%s line %d: the header row has too many fields: more than %d; a backup file's header names its table's columns",
			r.Name(), pe.Line, maxHeaderColumns).
			With("file", r.Name()).With("line", pe.Line).With("limit", maxHeaderColumns)
	case errors.Is(err, csvstream.ErrFieldTooLong), errors.Is(err, csvstream.ErrRecordTooLong):
		return apierr.Wrap(apierr.BackupCorrupt, err,
			"%s line %d: the header row is over the %d KiB limit for a header; a backup file's header names its table's columns",
			r.Name(), pe.Line, maxHeaderBytes>>10).
			With("file", r.Name()).With("line", pe.Line).With("limit_bytes", maxHeaderBytes)
	}
	return r.parseError(err)
}

// overLimit describes a data row over one of the bounds, or returns nil
// for any other parse error. The reader cannot go on past such a row (it
// stopped inside it, so where the next row starts is unknown): the error
// ends the file, for an inspect too, and says why with the limit, so that
// a person can tell a corrupt file from a row that is merely too big.
func (r *Reader) overLimit(pe *csvstream.ParseError) error {
	line, column := r.csv.Line(), ""
	var reason string
	var limit int
	switch {
	case errors.Is(pe, csvstream.ErrTooManyFields):
		reason, limit = fmt.Sprintf("row has at least %d fields, the header has %d", len(r.header)+1, len(r.header)), len(r.header)
	case errors.Is(pe, csvstream.ErrRecordTooLong):
		reason, limit = fmt.Sprintf("record is over the %d MiB limit for one row", MaxRecordBytes>>20), MaxRecordBytes
	case errors.Is(pe, csvstream.ErrFieldTooLong):
		reason, limit = fmt.Sprintf("field too long: over the %d MiB limit for one field", MaxFieldBytes>>20), MaxFieldBytes
		if i := pe.Column - 1; i < len(r.header) {
			column = r.header[i]
		}
	default:
		return nil
	}
	re := &RowError{Line: line, Column: column, Reason: reason}
	e := apierr.Wrap(apierr.BackupCorrupt, pe, "%s %s; the file cannot be read past this row", r.Name(), re.Error()).
		With("file", r.Name()).With("line", line).With("reason", reason).With("limit", limit)
	if column != "" {
		e.With("column", column)
	}
	return e
}

// jsonReason words why a JSON column's value was refused: over a bound on
// one value, or not JSON at all.
func jsonReason(err error) string {
	var le *legacyjson.LimitError
	if errors.As(err, &le) {
		return "JSON value over a limit: " + le.Reason
	}
	return "neither JSON nor a Python dict: " + err.Error()
}
